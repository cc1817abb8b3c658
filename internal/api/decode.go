package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// decode reads a JSON object strictly: size limit, no unknown fields, one value.
func decode(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return domain.Errorf(domain.ETooLarge, "body is larger than %d bytes", limit)
	}
	if err != nil {
		return domain.Errorf(domain.EMalformed, "could not read body: %v", err)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return domain.Errorf(domain.EMalformed, "body is empty: send a JSON object")
	}
	if trimmed[0] != '{' {
		return domain.Errorf(domain.EMalformed, "body must be a JSON object")
	}
	// encoding/json turns invalid UTF-8 and lone surrogates into U+FFFD
	// without a word and lets \u0000 through: check the text it was given.
	if bad := textProblems(trimmed); len(bad) > 0 {
		return bad.Err("the body must be UTF-8 text without NUL")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return domain.Errorf(domain.EMalformed, "malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "body"
			}
			return &domain.Error{Code: domain.EInvalid, Message: "wrong type",
				Fields: map[string]string{field: "must be " + jsonType(te.Type.String())}}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &domain.Error{Code: domain.EInvalid, Message: "unknown field " + name,
				Fields: map[string]string{name: "unknown field"}}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return domain.Errorf(domain.EMalformed, "malformed JSON: unexpected end")
		}
		return domain.Errorf(domain.EMalformed, "malformed JSON: %v", err)
	}
	if dec.More() {
		return domain.Errorf(domain.EMalformed, "body must be one JSON object")
	}
	return nil
}

func jsonType(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map"), strings.Contains(goType, "."):
		return "an object"
	}
	return "a " + goType
}
