// Store constructors for tests, and the 503 cause of a refused connection on a real closed port.
package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func wantCause(t *testing.T, err error, cause string) {
	t.Helper()
	var u *UnavailableError
	if !errors.As(err, &u) || u.Cause != cause {
		t.Fatalf("error %v, want database unavailable: %s", err, cause)
	}
}

func perRequestStoreFor(t *testing.T, url string, connectTimeout time.Duration) *PerRequestStore {
	t.Helper()
	config, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return NewPerRequestStore(config, connectTimeout)
}

func poolStoreFor(t *testing.T, url string, maxConns int32, timeout time.Duration, maxWaiting int64) *PoolStore {
	t.Helper()
	config, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	config.MinConns = 0
	config.MaxConns = maxConns
	config.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return NewPoolStore(pool, timeout, maxWaiting)
}

// Refused connections are "connection failed" for both strategies; the causes that need a live
// server (too many clients, pool timeout, queue full) are tested end to end against real
// PostgreSQL by tests/test_unavailable.py, for this service as for the Python ones.
func TestClosedPortIsConnectionFailed(t *testing.T) {
	url := closedPortURL(t)
	ctx := context.Background()
	_, err := perRequestStoreFor(t, url, time.Second).List(ctx, 0, 5)
	wantCause(t, err, "connection failed")
	_, err = poolStoreFor(t, url, 2, time.Second, 0).List(ctx, 0, 5)
	if err == nil {
		t.Fatal("pool on a closed port must fail")
	}
	var u *UnavailableError
	if !errors.As(err, &u) {
		t.Fatalf("want an UnavailableError, got %v", err)
	}
}
