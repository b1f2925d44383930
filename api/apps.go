package api

import (
	"math"
	"net/http"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/tenant"
)

type createAppRequest struct {
	Name           string  `json:"name"`
	CommissionRate float64 `json:"commission_rate"`
}

// AppResponse is an app on the wire. Secret is set only when the app is
// created.
type AppResponse struct {
	ID             int64     `json:"id"`
	Name           string    `json:"name"`
	Secret         string    `json:"secret,omitempty"`
	CommissionRate float64   `json:"commission_rate"`
	DateCreated    time.Time `json:"date_created"`
}

// ToAppResponse converts an app for the wire.
func ToAppResponse(a *tote.App, secret string) AppResponse {
	return AppResponse{
		ID:             a.ID,
		Name:           a.Name,
		Secret:         secret,
		CommissionRate: float64(a.CommissionRate) / 100,
		DateCreated:    a.DateCreated.UTC(),
	}
}

func (s *Server) handleCreateApp(w http.ResponseWriter, r *http.Request) {
	var req createAppRequest
	if err := decode(r, &req); err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	rate, err := ParsePercent(req.CommissionRate, "commission_rate")
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	app, secret, err := s.Apps.CreateApp(r.Context(), tenant.CreateAppParams{Name: req.Name, CommissionRate: rate})
	if err != nil {
		Error(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, ToAppResponse(app, secret))
}

// ParsePercent reads a percentage with at most two decimals (12.5 = 12.5%)
// as basis points (1250).
func ParsePercent(f float64, field string) (int64, error) {
	bp := math.Round(f * 100)
	if f < 0 || f > 100 || math.Abs(f*100-bp) > 1e-6 {
		return 0, tote.Invalid(tote.FieldError{Field: field, Message: "must be a percentage between 0 and 100 with at most two decimals"})
	}
	return int64(bp), nil
}
