package api

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/toteorg/tote"
	"github.com/toteorg/tote/tenant"
)

type createAppRequest struct {
	Name           string      `json:"name"`
	CommissionRate json.Number `json:"commission_rate"`
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
// as basis points (1250). Empty is zero.
func ParsePercent(n json.Number, field string) (int64, error) {
	if n == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	bp := math.Round(f * 100)
	if err != nil || f < 0 || f > 100 || math.Abs(f*100-bp) > 1e-6 {
		return 0, tote.Invalid(tote.FieldError{Field: field, Message: "must be a percentage between 0 and 100 with at most two decimals"})
	}
	return int64(bp), nil
}
