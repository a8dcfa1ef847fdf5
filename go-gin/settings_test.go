// Environment parsing: defaults, every variable, and one-line errors for bad values.
package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestSettingsDefaults(t *testing.T) {
	s, err := LoadSettings(envOf(map[string]string{"DATABASE_URL": "postgresql://u@h/db"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		DatabaseURL: "postgresql://u@h/db", Strategy: "pool", PoolMin: 1, PoolMax: 10,
		PoolTimeout: 5 * time.Second, PoolMaxWaiting: 0, ConnectTimeout: 5 * time.Second,
		CursorKey: []byte("fastapi-load-cursor-v1"), AccessLog: false,
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
}

func TestSettingsAll(t *testing.T) {
	s, err := LoadSettings(envOf(map[string]string{
		"DATABASE_URL": "postgresql://u@h/db", "DB_STRATEGY": "per-request", "DB_DRIVER": "pgx",
		"DB_POOL_MIN": "0", "DB_POOL_MAX": "50", "DB_POOL_TIMEOUT": "0.25", "DB_POOL_MAX_WAITING": "7",
		"DB_CONNECT_TIMEOUT": "1.5", "CURSOR_KEY": "k", "ACCESS_LOG": "Yes",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		DatabaseURL: "postgresql://u@h/db", Strategy: "per-request", PoolMin: 0, PoolMax: 50,
		PoolTimeout: 250 * time.Millisecond, PoolMaxWaiting: 7, ConnectTimeout: 1500 * time.Millisecond,
		CursorKey: []byte("k"), AccessLog: true,
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	for _, v := range []string{"1", "true", "TRUE", "on", "yes"} {
		if s, err := LoadSettings(envOf(map[string]string{"DATABASE_URL": "x", "ACCESS_LOG": v})); err != nil || !s.AccessLog {
			t.Errorf("ACCESS_LOG=%s: %v %v", v, s.AccessLog, err)
		}
	}
	for _, v := range []string{"0", "false", "no", "off", ""} {
		if s, err := LoadSettings(envOf(map[string]string{"DATABASE_URL": "x", "ACCESS_LOG": v})); err != nil || s.AccessLog {
			t.Errorf("ACCESS_LOG=%s: %v %v", v, s.AccessLog, err)
		}
	}
}

func TestSettingsErrors(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "DATABASE_URL: required"},
		{map[string]string{"DB_STRATEGY": "pooled"}, `DB_STRATEGY: "pooled" is not one of pool, per-request`},
		{map[string]string{"DB_DRIVER": "psycopg"}, `DB_DRIVER: "psycopg" is not supported by the Go service (pgx only)`},
		{map[string]string{"DB_DRIVER": "asyncpg"}, `DB_DRIVER: "asyncpg"`},
		{map[string]string{"DB_POOL_MIN": "-1"}, `DB_POOL_MIN: "-1" is not a whole number >= 0`},
		{map[string]string{"DB_POOL_MIN": "x"}, `DB_POOL_MIN: "x"`},
		{map[string]string{"DB_POOL_MAX": "0"}, `DB_POOL_MAX: "0" is not a whole number >= 1`},
		{map[string]string{"DB_POOL_MAX": "1.5"}, `DB_POOL_MAX: "1.5"`},
		{map[string]string{"DB_POOL_MAX": "99999999999"}, `DB_POOL_MAX: "99999999999"`},
		{map[string]string{"DB_POOL_MIN": "5", "DB_POOL_MAX": "2"}, "DB_POOL_MIN: 5 is greater than DB_POOL_MAX 2"},
		{map[string]string{"DB_POOL_MAX_WAITING": "-1"}, `DB_POOL_MAX_WAITING: "-1"`},
		{map[string]string{"DB_POOL_TIMEOUT": "0"}, `DB_POOL_TIMEOUT: "0" is not a number of seconds > 0`},
		{map[string]string{"DB_POOL_TIMEOUT": "NaN"}, `DB_POOL_TIMEOUT: "NaN"`},
		{map[string]string{"DB_POOL_TIMEOUT": "inf"}, `DB_POOL_TIMEOUT: "inf"`},
		{map[string]string{"DB_CONNECT_TIMEOUT": "soon"}, `DB_CONNECT_TIMEOUT: "soon"`},
		{map[string]string{"ACCESS_LOG": "maybe"}, `ACCESS_LOG: "maybe" is not a boolean`},
	}
	for _, tt := range tests {
		env := map[string]string{"DATABASE_URL": "postgresql://u@h/db"}
		if len(tt.env) == 0 {
			env = tt.env
		}
		for k, v := range tt.env {
			env[k] = v
		}
		_, err := LoadSettings(envOf(env))
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line containing %q", tt.env, err, tt.want)
		}
	}
	_, err := LoadSettings(envOf(map[string]string{"DB_POOL_MAX": "0", "DB_DRIVER": "psycopg"}))
	if err == nil || strings.Count(err.Error(), "; ") != 2 {
		t.Errorf("every problem should be reported on one line: %v", err)
	}
}
