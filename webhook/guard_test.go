package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/webhook"
)

func TestCheckEndpoint(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url          string
		allowPrivate bool
		ok           bool
	}{
		{"https://hooks.example.com/tote", false, true},
		{"https://93.184.216.34:8443/x?y=1", false, true},
		{"http://hooks.example.com/tote", false, false},
		{"https://127.0.0.1/x", false, false},
		{"https://10.1.2.3/x", false, false},
		{"https://192.168.0.10/x", false, false},
		{"https://172.16.5.4/x", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://[::1]/x", false, false},
		{"https://[fd00::1]/x", false, false},
		{"https://[::ffff:10.0.0.1]/x", false, false},
		{"https://localhost:8443/x", false, false},
		{"https://metadata.google.internal/x", false, false},
		{"https://intranet/x", false, false},
		{"https://0.0.0.0/x", false, false},
		{"http://127.0.0.1:8080/hook", true, true},
		{"https://localhost/hook", true, true},
		{"ftp://example.com/x", true, false},
		{"/relative", true, false},
		{"https://example.com/x#frag", false, false},
		{"", true, false},
		{"https://" + strings.Repeat("a", 2100) + ".com", false, false},
	}
	for _, c := range cases {
		err := webhook.CheckEndpoint(c.url, c.allowPrivate, "remote_endpoint")
		if c.ok != (err == nil) {
			t.Errorf("%q (allow private %v): err = %v, want ok %v", c.url, c.allowPrivate, err, c.ok)
		}
		if err != nil && (tote.ErrorCode(err) != tote.EINVALID || tote.ErrorFields(err)[0].Field != "remote_endpoint") {
			t.Errorf("%q: err = %v, want EINVALID naming remote_endpoint", c.url, err)
		}
	}
}

func TestPublic(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"93.184.216.34": true, "2606:2800:220:1:248:1893:25c8:1946": true,
		"127.0.0.1": false, "10.0.0.1": false, "100.64.1.1": false, "169.254.169.254": false, "192.168.1.1": false,
		"::1": false, "fe80::1": false, "fc00::1": false, "::ffff:127.0.0.1": false, "224.0.0.1": false,
		"255.255.255.255": false, "0.0.0.0": false, "198.18.0.1": false, "64:ff9b::a00:1": false,
	} {
		if got := webhook.Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestClientRefusesPrivateAddresses: without --webhook-allow-private the
// delivery client refuses to connect to a private address, whatever name
// led there (checked on the address dialled, after resolution).
func TestClientRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, u := range []string{srv.URL, "https://localhost" + port} {
		_, err := webhook.NewClient(2*time.Second, false).Post(u, "application/json", strings.NewReader("{}"))
		if err == nil || !strings.Contains(err.Error(), "not a public address") {
			t.Errorf("POST %s: err = %v, want a refusal", u, err)
		}
	}
	// With allowPrivate it connects (the TLS test certificate is another
	// matter: the refusal above came before any TLS).
	c := webhook.NewClient(2*time.Second, true)
	c.Transport.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	req, _ := http.NewRequestWithContext(context.Background(), "POST", srv.URL, strings.NewReader("{}"))
	if res, err := c.Do(req); err != nil {
		t.Fatalf("with allow private: %v", err)
	} else {
		res.Body.Close()
	}
}
