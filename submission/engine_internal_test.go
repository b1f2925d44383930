package submission

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/lifecycle"
	paymentsandbox "github.com/toteorg/tote/payment/sandbox"
)

// paymentsEngine is an engine on s whose payments go over HTTP to a sandbox
// provider on s, its handler passed through wrap (nil: as it is), and the
// client it uses.
func paymentsEngine(t *testing.T, s tote.Store, wrap func(http.Handler) http.Handler) (*Engine, *paymentsandbox.Client) {
	t.Helper()
	clock := tote.SystemClock{}
	var h http.Handler = (&paymentsandbox.Provider{Store: s, Key: "k", Clock: clock}).Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	payments := &paymentsandbox.Client{BaseURL: srv.URL, Key: "k"}
	return &Engine{Store: s, Clock: clock, Lifecycle: &lifecycle.Service{Store: s, Clock: clock},
		Payments: payments, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, payments
}
