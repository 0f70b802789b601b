// Package engine is loopgate's data path: the gnet event handler with one
// explicit state machine per client and per upstream connection.
//
// A client connection and the upstream connection serving it live on the same
// event loop, so the request path takes no locks: pickers, idle upstream
// connections, timers and scratch buffers belong to a loop (type loop). Shared
// state is read through atomics. Timeouts and flow control are the engine's
// own, because gnet has neither; docs/ARCHITECTURE.md explains both.
//
//	srv, err := engine.New(cfg, logger)
//	go srv.Run()
//	...
//	srv.Shutdown(ctx) // stop taking connections, finish in-flight requests
package engine
