// Package ascii holds the byte tables the parsers share: case folding and
// hex digits, one load per byte.
package ascii

// Lower maps ASCII upper case to lower case and every other byte to itself.
var Lower = func() (t [256]byte) {
	for c := 0; c < 256; c++ {
		t[c] = byte(c)
		if 'A' <= c && c <= 'Z' {
			t[c] = byte(c) + 'a' - 'A'
		}
	}
	return t
}()

// Unhex maps a hex digit to its value and every other byte to 0xff.
var Unhex = func() (t [256]byte) {
	for c := 0; c < 256; c++ {
		t[c] = 0xff
		switch {
		case '0' <= c && c <= '9':
			t[c] = byte(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			t[c] = byte(c - 'A' + 10)
		}
	}
	return t
}()
