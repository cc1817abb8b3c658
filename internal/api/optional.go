package api

import (
	"bytes"
	"encoding/json"
)

// optional is a JSON field that may be absent, null or a value: a PATCH
// leaves an absent field alone and can refuse a null one, and
// transfer-ownership tells "user_id": null (give the lead back to the team)
// from a forgotten user_id. A value of the wrong type is still the
// decoder's UnmarshalTypeError, which decode turns into a 422 naming the
// field.
type optional[T any] struct {
	Set  bool // the field was in the body
	Null bool // ... as null
	V    T
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	// Strict like the body around it: an unknown field inside an object
	// value is refused, not dropped.
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(&o.V)
}

// ptr is the value when one was sent, nil when the field was absent or null.
func (o optional[T]) ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	return &o.V
}
