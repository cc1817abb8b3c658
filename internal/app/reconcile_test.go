package app

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestTheLogLineReportsEveryCounter: whatever a round found, the worker logs
// one line for it that carries every counter of Reconciled, each under its
// own key. The counters are read off the struct by reflection, so a counter
// added to Reconciled without a log field fails here instead of going
// unreported.
func TestTheLogLineReportsEveryCounter(t *testing.T) {
	// Every counter gets its own value, so a field logged twice in place of
	// another shows as a missing value.
	var found Reconciled
	v := reflect.ValueOf(&found).Elem()
	counters := map[int64]string{}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Type.Kind() != reflect.Int {
			t.Fatalf("Reconciled.%s is a %s, not a counter: say here how the log line reports it", f.Name, f.Type)
		}
		n := int64(101 + i)
		v.Field(i).SetInt(n)
		counters[n] = f.Name
	}

	for _, tc := range []struct {
		name  string
		r     Reconciled
		err   error
		level zapcore.Level
		msg   string
	}{
		{"quiet", Reconciled{}, nil, zapcore.DebugLevel, "reconcile pass"},
		{"stranded work", found, nil, zapcore.WarnLevel, "reconciled stranded work"},
		{"failed", found, errors.New("temporal unreachable"), zapcore.WarnLevel, "reconcile pass failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			logRound(context.Background(), zap.New(core), tc.r, tc.err)
			if logs.Len() != 1 {
				t.Fatalf("%d log lines for one round, want 1: %v", logs.Len(), logs.All())
			}
			line := logs.All()[0]
			if line.Level != tc.level || line.Message != tc.msg {
				t.Errorf("logged %s %q, want %s %q", line.Level, line.Message, tc.level, tc.msg)
			}
			fields := line.ContextMap()
			if tc.err != nil {
				if fields["error"] != tc.err.Error() {
					t.Errorf("error field %v, want %q", fields["error"], tc.err)
				}
				delete(fields, "error")
			}
			if len(fields) != v.NumField() {
				t.Errorf("%d fields on the line, want one per counter of Reconciled (%d): %v", len(fields), v.NumField(), fields)
			}
			if tc.r == (Reconciled{}) {
				return
			}
			logged := map[int64]bool{}
			for _, val := range fields {
				if n, ok := val.(int64); ok {
					logged[n] = true
				}
			}
			for n, name := range counters {
				if !logged[n] {
					t.Errorf("Reconciled.%s (%d) is not on the log line: %v", name, n, fields)
				}
			}
		})
	}
}

// TestARoundCutShortByShutdownIsNotAFailure: the worker stopping mid-pass
// ends the pass with ctx's error; the line reports what the pass did and no
// failure, as the metrics do.
func TestARoundCutShortByShutdownIsNotAFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	core, logs := observer.New(zapcore.DebugLevel)
	logRound(ctx, zap.New(core), Reconciled{Transfers: 1}, ctx.Err())
	if logs.Len() != 1 || logs.All()[0].Message != "reconcile pass" || logs.All()[0].Level != zapcore.InfoLevel {
		t.Fatalf("logged %v, want one information line \"reconcile pass\"", logs.All())
	}
}
