package domain

import (
	"fmt"
	"strings"
	"time"
)

// MaxLeadBody is the largest lead a vendor may post (SPEC §4).
const MaxLeadBody = 64 << 10

type Address struct {
	Street     string `json:"street,omitempty"`
	City       string `json:"city,omitempty"`
	State      string `json:"state,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
}

// LeadInput is the body of POST /v1/leads. Location is the vendor's wish
// (pending or queue); a source's force_location overrides it (SPEC §5.5).
type LeadInput struct {
	ExternalID string            `json:"external_id"`
	FirstName  string            `json:"first_name,omitempty"`
	LastName   string            `json:"last_name,omitempty"`
	Email      string            `json:"email,omitempty"`
	Phone      string            `json:"phone,omitempty"`
	Address    Address           `json:"address,omitempty"`
	Company    string            `json:"company,omitempty"`
	Rating     string            `json:"rating,omitempty"`
	Notes      string            `json:"notes,omitempty"`
	Labels     []string          `json:"labels,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Location   string            `json:"location,omitempty"`
}

// Validate trims the input and reports every bad field at once.
func (in *LeadInput) Validate() error {
	f := FieldErrors{}
	in.ExternalID = strings.TrimSpace(in.ExternalID)
	switch {
	case in.ExternalID == "":
		f.Add("external_id", "required")
	case len(in.ExternalID) > 128:
		f.Add("external_id", "at most 128 characters")
	}
	in.Email = strings.TrimSpace(in.Email)
	in.Phone = strings.TrimSpace(in.Phone)
	if in.Email != "" && !ValidEmail(in.Email) {
		f.Add("email", "not a valid email address")
	}
	if in.Phone != "" && !ValidPhone(in.Phone) {
		f.Add("phone", "not a valid phone number (7 to 15 digits)")
	}
	if in.Email == "" && in.Phone == "" {
		f.Add("email", "email or phone is required")
		f.Add("phone", "email or phone is required")
	}
	short := map[string]string{"first_name": in.FirstName, "last_name": in.LastName, "company": in.Company,
		"rating": in.Rating, "address.street": in.Address.Street, "address.city": in.Address.City,
		"address.state": in.Address.State, "address.postal_code": in.Address.PostalCode}
	for k, v := range short {
		if len(v) > 500 {
			f.Add(k, "at most 500 characters")
		}
	}
	if len(in.Labels) > 50 {
		f.Add("labels", "at most 50 labels")
	}
	for i, l := range in.Labels {
		l = strings.TrimSpace(l)
		if l == "" || len(l) > 100 {
			f.Add("labels", "each label 1 to 100 characters")
		}
		in.Labels[i] = l
	}
	for k := range in.Attributes {
		if k == "" || len(k) > 100 {
			f.Add("attributes", "keys 1 to 100 characters")
		}
	}
	if in.Location != "" && in.Location != LocationPending && in.Location != LocationQueue {
		f.Add("location", "pending or queue")
	}
	return f.Err("invalid lead")
}

// Placement is where the routing rules send a lead before a person is chosen.
type Placement struct {
	Location string // "", pending or queue
	Reason   string
}

// Place decides whether a lead waits in a location or goes on to be assigned:
// a source's force_location wins, then the vendor's wish, then the mode.
func Place(mode RoutingMode, forceLocation, vendorLocation string, queueDelay time.Duration) Placement {
	switch {
	case forceLocation != "":
		return Placement{forceLocation, fmt.Sprintf("source forces location %s", forceLocation)}
	case vendorLocation != "":
		return Placement{vendorLocation, fmt.Sprintf("vendor asked for location %s", vendorLocation)}
	case mode == RoutePending:
		return Placement{LocationPending, "source routing is pending: waits for someone with permission"}
	case mode == RouteQueue:
		return Placement{LocationQueue, fmt.Sprintf("source routing is queue: claimable after %s", queueDelay)}
	}
	return Placement{}
}
