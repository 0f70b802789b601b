#!/usr/bin/env bash
# Carries gnet in third_party/gnet as the pristine module plus third_party/gnet.patch
# (what the patch does and why: third_party/README.md).
#
# usage: scripts/gnet-vendor.sh        re-create third_party/gnet: pristine copy + gnet.patch
#        scripts/gnet-vendor.sh -diff  regenerate gnet.patch from the current third_party/gnet
#
# Moving to a new gnet release: change GNET_VERSION (and the require in go.mod), run the
# script, fix what no longer applies in third_party/gnet, then run it with -diff.
set -euo pipefail
cd "$(dirname "$0")/.."

GNET_VERSION=v2.10.0
MODULE=github.com/panjf2000/gnet/v2
DEST=third_party/gnet
PATCH=third_party/gnet.patch

die() { echo "gnet-vendor: $*" >&2; exit 1; }

# The module proxy here serves explicit versions only, so ask for one.
pristine=$(go mod download -json "$MODULE@$GNET_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$pristine" ] && [ -d "$pristine" ] || die "cannot download $MODULE@$GNET_VERSION"

W=$(mktemp -d /tmp/gnet-vendor.XXXXXX)
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT

case "${1:-}" in
-diff)
	[ -d "$DEST" ] || die "$DEST does not exist"
	cp -R "$pristine" "$W/a"
	cp -R "$DEST" "$W/b"
	chmod -R u+w "$W"
	{
		echo "loopgate's patch to $MODULE $GNET_VERSION, applied by scripts/gnet-vendor.sh"
		echo "(pristine -> third_party/gnet). What it changes and why: third_party/README.md."
		echo "Regenerate with: scripts/gnet-vendor.sh -diff"
		echo
		# git diff exits 1 when the trees differ; >1 is a real failure.
		(cd "$W" && git -c core.quotepath=off diff --no-index --no-prefix --no-color --no-ext-diff a b) || [ $? -eq 1 ]
	} >"$W/gnet.patch"
	mv "$W/gnet.patch" "$PATCH"
	echo "wrote $PATCH ($(wc -l <"$PATCH") lines)"
	;;
"")
	[ -f "$PATCH" ] || die "$PATCH is missing"
	cp -R "$pristine" "$W/gnet"
	chmod -R u+w "$W/gnet"
	(cd "$W/gnet" && git apply --whitespace=nowarn -p1 "$OLDPWD/$PATCH") ||
		die "$PATCH does not apply to $MODULE@$GNET_VERSION; $DEST is left untouched"
	rm -rf "$DEST"
	mv "$W/gnet" "$DEST"
	echo "re-created $DEST from $MODULE@$GNET_VERSION + $PATCH"
	;;
*)
	die "usage: $0 [-diff]"
	;;
esac
