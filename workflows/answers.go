package workflows

import (
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
)

// oneAnswer is the state of a run that takes exactly one answer through
// Updates (an invitation, a handover). Updates validated in the same
// workflow task all pass the validator, so each handler checks open again
// before its first yield and marks itself busy: only one gets through.
type oneAnswer struct {
	what   string // "invitation", "handover": for the refusals' words
	status string // "pending" until answered
	busy   bool   // an answer is running its activity
}

// open refuses an answer once the run has one, or while one is running.
func (o *oneAnswer) open() error {
	switch {
	case o.status != "pending":
		return failure.New(domain.EConflict, "this "+o.what+" was already "+o.status, nil)
	case o.busy:
		return failure.New(domain.EConflict, "another answer to this "+o.what+" is being processed", nil)
	}
	return nil
}
