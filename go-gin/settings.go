// Environment settings of docs/api.md, parsed and checked once at startup.
package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

const (
	StrategyPool       = "pool"
	StrategyPerRequest = "per-request"
)

type Settings struct {
	DatabaseURL    string
	Strategy       string
	PoolMin        int32
	PoolMax        int32
	PoolTimeout    time.Duration
	PoolMaxWaiting int64
	ConnectTimeout time.Duration
	CursorKey      []byte
	AccessLog      bool
}

// LoadSettings reads through getenv rather than os.Getenv so tests and run() stay free of
// process-global state. An empty variable counts as unset: getenv cannot tell them apart.
func LoadSettings(getenv func(string) string) (Settings, error) {
	s := Settings{
		Strategy:       StrategyPool,
		PoolMin:        1,
		PoolMax:        10,
		PoolTimeout:    5 * time.Second,
		ConnectTimeout: 5 * time.Second,
		CursorKey:      []byte(DefaultCursorKey),
	}
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}

	s.DatabaseURL = strings.TrimSpace(getenv("DATABASE_URL"))
	if s.DatabaseURL == "" {
		fail("DATABASE_URL", "required (postgresql://user:pass@host:port/db)")
	}

	switch v := strings.TrimSpace(getenv("DB_STRATEGY")); v {
	case "":
	case StrategyPool, StrategyPerRequest:
		s.Strategy = v
	default:
		fail("DB_STRATEGY", "%q is not one of pool, per-request", v)
	}

	switch v := strings.TrimSpace(getenv("DB_DRIVER")); v {
	case "", "pgx":
	default:
		fail("DB_DRIVER", "%q is not supported by the Go service (pgx only)", v)
	}

	if v, ok, err := envInt(getenv, "DB_POOL_MIN", 0, math.MaxInt32); err != nil {
		errs = append(errs, err)
	} else if ok {
		s.PoolMin = int32(v)
	}
	if v, ok, err := envInt(getenv, "DB_POOL_MAX", 1, math.MaxInt32); err != nil {
		errs = append(errs, err)
	} else if ok {
		s.PoolMax = int32(v)
	}
	if s.PoolMin > s.PoolMax {
		fail("DB_POOL_MIN", "%d is greater than DB_POOL_MAX %d", s.PoolMin, s.PoolMax)
	}
	if v, ok, err := envInt(getenv, "DB_POOL_MAX_WAITING", 0, math.MaxInt64); err != nil {
		errs = append(errs, err)
	} else if ok {
		s.PoolMaxWaiting = v
	}
	if v, ok, err := envSeconds(getenv, "DB_POOL_TIMEOUT"); err != nil {
		errs = append(errs, err)
	} else if ok {
		s.PoolTimeout = v
	}
	if v, ok, err := envSeconds(getenv, "DB_CONNECT_TIMEOUT"); err != nil {
		errs = append(errs, err)
	} else if ok {
		s.ConnectTimeout = v
	}

	if v := getenv("CURSOR_KEY"); v != "" {
		s.CursorKey = []byte(v)
	}

	switch v := strings.ToLower(strings.TrimSpace(getenv("ACCESS_LOG"))); v {
	case "", "0", "false", "no", "off":
	case "1", "true", "yes", "on":
		s.AccessLog = true
	default:
		fail("ACCESS_LOG", "%q is not a boolean (1/true/yes/on or 0/false/no/off)", v)
	}

	return s, joinOneLine(errs)
}

// joinOneLine keeps every problem on one line, so a bad setting is one line in a log.
func joinOneLine(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

func envInt(getenv func(string) string, name string, lo, hi int64) (int64, bool, error) {
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return 0, false, nil
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, false, fmt.Errorf("%s: %q is not a whole number >= %d", name, raw, lo)
	}
	return v, true, nil
}

func envSeconds(getenv func(string) string, name string) (time.Duration, bool, error) {
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return 0, false, nil
	}
	v, err := strconv.ParseFloat(raw, 64)
	// The upper bound keeps the conversion to a Duration from overflowing.
	if err != nil || math.IsNaN(v) || v <= 0 || v > 1e6 {
		return 0, false, fmt.Errorf("%s: %q is not a number of seconds > 0", name, raw)
	}
	return time.Duration(v * float64(time.Second)), true, nil
}
