package engine

import "testing"

// An exchange given back keeps the capacity of its small buffers and none
// of its state; the next hold takes the same one, and a big buffer is left
// to the garbage collector rather than kept on the free list.
func TestExchangeFreeList(t *testing.T) {
	l := &loop{}
	cc := &clientConn{l: l, ln: plainTestListener}
	if cc.hold(); cc.exchange == nil {
		t.Fatal("hold gave no exchange")
	}
	x := cc.exchange
	x.minor, x.closeAfter, x.attempts, x.remaining = 1, true, 2, 7
	x.retry = append(x.retry, "GET / HTTP/1.1\r\n\r\n"...)
	x.head = make([]byte, maxKeptBuffer+1)
	x.log.open, x.log.status = true, 200
	x.log.id = append(x.log.id, "id-1"...)
	cc.release()
	if cc.exchange != nil || len(l.exchanges) != 1 {
		t.Fatalf("after release: exchange %p, free list %d", cc.exchange, len(l.exchanges))
	}
	cc.hold()
	y := cc.exchange
	if y != x {
		t.Fatal("hold did not reuse the exchange on the free list")
	}
	if y.minor != 0 || y.closeAfter || y.attempts != 0 || y.remaining != 0 || y.log.open || y.log.status != 0 ||
		len(y.retry) != 0 || len(y.log.id) != 0 {
		t.Fatalf("reused exchange kept state: %+v", *y)
	}
	if cap(y.retry) == 0 || cap(y.log.id) == 0 {
		t.Error("small buffers were not kept")
	}
	if y.head != nil {
		t.Errorf("a %d-byte buffer was kept; want it dropped above %d", cap(y.head), maxKeptBuffer)
	}
	cc.hold() // holding twice is a no-op
	if cc.exchange != y || len(l.exchanges) != 0 {
		t.Fatal("a second hold replaced the exchange")
	}
}

// plainTestListener is the listener of clients made by unit tests.
var plainTestListener = &listener{scheme: schemeHTTP}
