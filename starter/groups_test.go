package main

import (
	"testing"

	"github.com/leadrelay/leadrelay/internal/apiclient"
)

// --member reads USER[:WEIGHT], the weight 1 when left out, and refuses
// what is not a user id or a number before any call.
func TestMemberFlagReadsUserAndWeight(t *testing.T) {
	var m memberFlags
	id := "0190f0c4-1111-7000-8000-000000000001"
	for _, v := range []string{id, id + ":7"} {
		if err := m.Set(v); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
	}
	want := []apiclient.GroupMember{{UserID: id, Weight: 1}, {UserID: id, Weight: 7}}
	for i := range want {
		if m[i] != want[i] {
			t.Errorf("member %d: %+v, want %+v", i, m[i], want[i])
		}
	}
	for _, bad := range []string{"bob", id + ":heavy"} {
		if err := m.Set(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
