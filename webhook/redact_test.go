package webhook

import "testing"

func TestRedact(t *testing.T) {
	if got := redact("https://user:pw@hooks.example.com/in?token=s3cret#frag"); got != "https://hooks.example.com/in" {
		t.Fatalf("redact = %q", got)
	}
}
