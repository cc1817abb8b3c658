package main

import (
	"fmt"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// normalIDs rewrites each id flag in its one spelling (domain.NormalID), so
// the CLI sends and compares ids as the API does: an org id pasted in upper
// case names the same org. An empty flag is left for the caller's "required"
// check; anything else that is not an id stops the command, naming the flag.
func normalIDs(flags map[string]*string) error {
	for name, v := range flags {
		if *v == "" {
			continue
		}
		id, ok := domain.NormalID(*v)
		if !ok {
			return fmt.Errorf("--%s: %q is not an id", name, *v)
		}
		*v = id
	}
	return nil
}
