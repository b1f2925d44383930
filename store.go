package tote

import (
	"context"
	"time"
)

// Store is the system of record: the embedded SQLite store or PostgreSQL.
// Both implement it identically, as the storetest conformance suite checks.
type Store interface {
	Reader
	JobQueue
	CatalogReader
	SandboxStore
	WebhookStore

	// InTx runs fn in one read-write transaction and commits if fn returns
	// nil; otherwise nothing fn wrote is kept. A state change, its audit
	// rows, its events and its follow-up jobs are written in one InTx.
	InTx(ctx context.Context, fn func(tx Tx) error) error

	// Ping reports whether the database is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close() error

	// ReserveIdempotencyKey records k as in flight unless the app already
	// used k.Key. It returns (nil, true) when k was reserved for the caller,
	// and (existing, false) when the key is known. A key still in flight
	// whose LockedAt is before staleBefore, with the same request hash, is
	// taken over (reserved again) since its handler presumably died.
	ReserveIdempotencyKey(ctx context.Context, k *IdempotencyKey, staleBefore time.Time) (*IdempotencyKey, bool, error)
	// FindIdempotencyKey reads a key (ErrNotFound if unknown).
	FindIdempotencyKey(ctx context.Context, appID int64, key string) (*IdempotencyKey, error)
	// CompleteIdempotencyKey stores the response given to k, which the
	// caller reserved. k.LockedAt fences it: if the key was taken over
	// meanwhile, nothing is stored and it reports false.
	CompleteIdempotencyKey(ctx context.Context, k *IdempotencyKey, code int, body []byte) (bool, error)
	// ReleaseIdempotencyKey forgets k, reserved by the caller and not
	// completed (the request failed in a way the client should retry);
	// fenced by k.LockedAt like CompleteIdempotencyKey.
	ReleaseIdempotencyKey(ctx context.Context, k *IdempotencyKey) error
	// PruneIdempotencyKeys deletes keys created before the given time.
	PruneIdempotencyKeys(ctx context.Context, before time.Time) (int64, error)
}

// Reader holds the lookups, served by a Store outside any transaction and by
// a Tx inside one. Each returns ErrNotFound when nothing matches.
type Reader interface {
	FindAppByID(ctx context.Context, id int64) (*App, error)
	// FindOrderByID returns the order with its bags.
	FindOrderByID(ctx context.Context, id int64) (*Order, error)
	FindBagByID(ctx context.Context, id int64) (*Bag, error)
	// FindOrderByIdempotencyKey finds the order an app created with an
	// Idempotency-Key.
	FindOrderByIdempotencyKey(ctx context.Context, appID int64, key string) (*Order, error)
	// FindOrders returns a page of the orders matching f, newest first,
	// each with its bags, and the total count.
	FindOrders(ctx context.Context, f OrderFilter, page Page) ([]*Order, int64, error)
	// FindBags returns a page of the bags matching f, with their SKUs, and
	// the total count.
	FindBags(ctx context.Context, f BagFilter, page Page) ([]*Bag, int64, error)
	// FindEvents returns the events of one order (and bag, when bagID is not
	// zero), oldest first.
	FindEvents(ctx context.Context, orderID, bagID int64) ([]*Event, error)
	// FindStatusChanges returns the audit trail of one order, oldest first.
	FindStatusChanges(ctx context.Context, orderID int64) ([]*StatusChange, error)
	FindJobByID(ctx context.Context, id int64) (*Job, error)
}

// Tx is one read-write transaction.
type Tx interface {
	Reader
	CatalogReader
	CatalogWriter
	WebhookReader
	WebhookWriter

	// CreateApp inserts a and sets its ID.
	CreateApp(ctx context.Context, a *App) error
	// CreateOrder inserts o, its bags and their SKU lines, and sets their
	// IDs. A second order of the app with the same IdempotencyKey is
	// ECONFLICT.
	CreateOrder(ctx context.Context, o *Order) error
	// LockOrder returns the order with its bags, locked against other
	// writers until the transaction ends: every change to an order or its
	// bags locks the order first, so changes to one order are serialized.
	// ErrNotFound if there is no such order.
	LockOrder(ctx context.Context, id int64) (*Order, error)
	// UpdateBag saves b's statuses, version, external id, submission
	// attempts, money and dates (not its SKU lines).
	UpdateBag(ctx context.Context, b *Bag) error
	// UpdateOrder saves o's status, totals, details, client secret and
	// dates (not its bags).
	UpdateOrder(ctx context.Context, o *Order) error
	// InsertOrderErrors appends errors to their order and sets their IDs.
	InsertOrderErrors(ctx context.Context, errs []*OrderError) error
	// InsertPaymentTransactions appends transactions and sets their IDs.
	InsertPaymentTransactions(ctx context.Context, ts []*PaymentTransaction) error
	// InsertStatusChanges appends changes to the audit trail, in order,
	// and sets their IDs.
	InsertStatusChanges(ctx context.Context, changes []*StatusChange) error
	// InsertEvents appends events. Each event of a bag gets the bag's next
	// sequence number (stored on the bag as EventSeq). Each event also fans
	// out, in this transaction, to every ACTIVE subscription of its app and
	// type: one Delivery each, due at once unless it waits behind an
	// earlier delivery of its bag (Webhook.Ordered). An event's payload is
	// stored only if at least one subscription receives it.
	InsertEvents(ctx context.Context, events []*Event) error
	// InsertJobs adds jobs (see JobParams.Prepared) that become claimable
	// when the transaction commits, and returns their ids.
	InsertJobs(ctx context.Context, jobs []JobParams) ([]int64, error)
	// CompleteJobs marks the jobs that are still waiting to run (available)
	// completed: the work they were to do, or to make sure of, is done.
	// Jobs running or finished are left as they are.
	CompleteJobs(ctx context.Context, ids []int64, now time.Time) error
	// DueJobs makes the jobs that are still waiting to run (available) due
	// at at (a safety net whose work must now be done soon). Jobs running
	// or finished are left as they are.
	DueJobs(ctx context.Context, ids []int64, at time.Time) error
}

// JobQueue is the workers' side of durable jobs.
type JobQueue interface {
	// ClaimJobs marks up to p.Limit due jobs as running for p.Worker until
	// p.Now+p.Lease, and returns them. Two claimers never get the same job.
	ClaimJobs(ctx context.Context, p ClaimJobsParams) ([]*Job, error)
	// RecordJobOutcomes ends attempts, all in one transaction (one commit
	// for many jobs is what lets workers keep up). For each outcome it
	// reports whether it was recorded: false, changing nothing, when that
	// attempt no longer holds its job (it was rescued meanwhile).
	RecordJobOutcomes(ctx context.Context, outcomes []JobOutcome) ([]bool, error)
	// ExtendJobLeases moves the lease of each listed attempt that still
	// holds its job to until (a running worker's heartbeat), and reports
	// how many it extended.
	ExtendJobLeases(ctx context.Context, leases []JobLease, until time.Time) (int64, error)
	// RescueJobs returns running jobs whose lease ended before now to the
	// queue (or discards them when out of attempts), and reports how many.
	RescueJobs(ctx context.Context, now time.Time) (int64, error)
	// PruneJobs deletes completed and discarded jobs finalized before the
	// given time.
	PruneJobs(ctx context.Context, before time.Time) (int64, error)
	// JobStats describes the queue.
	JobStats(ctx context.Context, now time.Time) (JobStats, error)
}

// CatalogReader reads merchants and what they sell. Each lookup by id
// returns ErrNotFound when nothing matches.
type CatalogReader interface {
	FindMerchantByID(ctx context.Context, id int64) (*Merchant, error)
	// FindMerchantByExternalID finds a merchant by its import id.
	FindMerchantByExternalID(ctx context.Context, externalID string) (*Merchant, error)
	// FindMerchants returns a page of merchants by id and the total count.
	FindMerchants(ctx context.Context, page Page) ([]*Merchant, int64, error)
	FindSKUByID(ctx context.Context, id int64) (*SKU, error)
	FindSKUByExternalID(ctx context.Context, merchantID int64, externalID string) (*SKU, error)
	// FindSKUs returns a page of SKUs by id (of one merchant when
	// merchantID is not zero) and the total count.
	FindSKUs(ctx context.Context, merchantID int64, page Page) ([]*SKU, int64, error)
	FindShippingMethodByID(ctx context.Context, id int64) (*ShippingMethod, error)
	// FindShippingMethods returns a merchant's shipping methods by id.
	FindShippingMethods(ctx context.Context, merchantID int64) ([]*ShippingMethod, error)
	// FindTaxRates returns a merchant's tax rates.
	FindTaxRates(ctx context.Context, merchantID int64) ([]*TaxRate, error)
}

// CatalogWriter changes the catalog. Create methods set the ID; a second
// row with the same external id (per merchant for SKUs and shipping
// methods) is ECONFLICT.
type CatalogWriter interface {
	CreateMerchant(ctx context.Context, m *Merchant) error
	// LockMerchant returns the merchant, locked against other writers
	// until the transaction ends (ErrNotFound if there is none).
	LockMerchant(ctx context.Context, id int64) (*Merchant, error)
	// UpdateMerchant saves every field but ID and DateCreated.
	UpdateMerchant(ctx context.Context, m *Merchant) error
	CreateSKU(ctx context.Context, s *SKU) error
	// UpdateSKU saves every field but ID, MerchantID and DateCreated.
	UpdateSKU(ctx context.Context, s *SKU) error
	CreateShippingMethod(ctx context.Context, m *ShippingMethod) error
	// UpdateShippingMethod saves every field but ID, MerchantID and DateCreated.
	UpdateShippingMethod(ctx context.Context, m *ShippingMethod) error
	// SaveTaxRate creates the merchant's rate for (Country, State), or
	// replaces it, and sets r.ID.
	SaveTaxRate(ctx context.Context, r *TaxRate) error
}
