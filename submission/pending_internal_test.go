package submission

import (
	"testing"
	"time"
)

// TestPendingDelay: a bag the platform has not confirmed is looked at again
// soon, then less and less often, never waiting (much) longer than the
// reconcile interval, whatever it is set to.
func TestPendingDelay(t *testing.T) {
	t.Parallel()
	within := func(d, want time.Duration) bool { return d >= want*3/4 && d <= want*5/4 }
	for _, reconcile := range []time.Duration{time.Second, 5 * time.Minute} {
		e := &Engine{Reconcile: reconcile}
		if d := e.pendingDelay(1); !within(d, pendingPoll) {
			t.Errorf("reconcile %v: first wait %v, want about %v", reconcile, d, pendingPoll)
		}
		if d := e.pendingDelay(3); !within(d, 4*pendingPoll) {
			t.Errorf("reconcile %v: third wait %v, want about %v", reconcile, d, 4*pendingPoll)
		}
		for attempt := 20; attempt < 25; attempt++ {
			if d := e.pendingDelay(attempt); !within(d, reconcile) {
				t.Errorf("reconcile %v: wait %d is %v, want about the interval", reconcile, attempt, d)
			}
		}
	}
	if d := (&Engine{}).pendingDelay(30); !within(d, 5*time.Minute) {
		t.Errorf("default: wait %v, want about 5m", d)
	}
}
