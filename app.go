package tote

import "time"

// App is a channel: a marketplace or storefront that sells merchants'
// products through Tote. Every /v1 call is made as one app, and an app sees
// only its own data.
type App struct {
	ID   int64
	Name string
	// SecretHash is the SHA-256 of the app secret. The secret itself is shown
	// once, when the app is created, and never stored.
	SecretHash []byte
	// CommissionRate is the share of a bag's total the channel keeps, in
	// basis points (1000 = 10%).
	CommissionRate int64
	// WebhookKey signs the app's deliveries (X-Violet-Hmac, keyed with the
	// app secret) without being the secret: the HMAC-SHA256 key state
	// precomputed from it (docs/decisions/0009-webhooks.md). Nil for an
	// app created before webhooks until it next creates a subscription.
	WebhookKey  []byte
	DateCreated time.Time
}
