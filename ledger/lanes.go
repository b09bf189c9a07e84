package ledger

import "sync"

// lanes serialise, within this process, the commands that append to one busy
// subject. Every check on a product extends the product's check log (one
// hash chain): decided concurrently, all but one lose the append to a
// conflict and are decided again, and under load some ran out of attempts
// and answered 409 conflict. In its lane, a check decides after the one
// before it has landed. Other ledger processes are still held off by the
// expected-sequence header.
type lanes struct {
	mu sync.Mutex
	m  map[string]*lane
}

type lane struct {
	mu    sync.Mutex
	users int // holders and waiters, under lanes.mu
}

// enter waits for subject's lane and returns the function that leaves it.
func (ls *lanes) enter(subject string) (leave func()) {
	ls.mu.Lock()
	if ls.m == nil {
		ls.m = map[string]*lane{}
	}
	l := ls.m[subject]
	if l == nil {
		l = &lane{}
		ls.m[subject] = l
	}
	l.users++
	ls.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		ls.mu.Lock()
		if l.users--; l.users == 0 {
			delete(ls.m, subject)
		}
		ls.mu.Unlock()
	}
}
