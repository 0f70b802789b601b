package engine

import "testing"

func TestAppendUpgrade(t *testing.T) {
	f := func(v, want string, wantOK bool) {
		t.Helper()
		got, ok := appendUpgrade([]byte("X: 1\r\n"), []byte(v))
		w := "X: 1\r\n" + want
		if ok != wantOK || string(got) != w {
			t.Fatalf("appendUpgrade(%q) = %q, %v; want %q, %v", v, got, ok, w, wantOK)
		}
	}
	f("websocket", "Connection: upgrade\r\nUpgrade: websocket\r\n", true)
	f("h2c", "", false)
	f("H2C , ,", "", false)
	f("h2c, websocket", "Connection: upgrade\r\nUpgrade: websocket\r\n", true)
	f(" foo/2 ,\tbar ", "Connection: upgrade\r\nUpgrade: foo/2, bar\r\n", true)
	f("h2, h2c/1, h2cx", "Connection: upgrade\r\nUpgrade: h2, h2c/1, h2cx\r\n", true) // only the token h2c itself
	f("", "", false)
}
