package api

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// maxWalkDepth bounds textProblems' recursion; deeper bodies are left to the
// decoder, which refuses them as malformed.
const maxWalkDepth = 1000

// textProblems walks a JSON text and names, by field path (address.street,
// labels[2], attributes.<key>), every string, key or value, that holds NUL
// (escaped or raw) or is not UTF-8: a raw invalid byte, or an escaped
// surrogate that is not half of a pair. A bad key is named by its path with
// the bad parts shown as U+FFFD. The walk stops quietly at a syntax error and
// then reports nothing: the decoder names the syntax error.
func textProblems(b []byte) domain.FieldErrors {
	w := jsonWalker{b: b, bad: domain.FieldErrors{}}
	if !w.value("", 0) {
		return nil
	}
	return w.bad
}

type jsonWalker struct {
	b   []byte
	i   int
	bad domain.FieldErrors
}

func (w *jsonWalker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// next skips space and returns the next byte (0 at the end).
func (w *jsonWalker) next() byte {
	w.space()
	if w.i >= len(w.b) {
		return 0
	}
	return w.b[w.i]
}

// value walks one value at path; it reports false on a syntax error.
func (w *jsonWalker) value(path string, depth int) bool {
	if depth > maxWalkDepth {
		return false
	}
	switch w.next() {
	case '{':
		w.i++
		if w.next() == '}' {
			w.i++
			return true
		}
		for {
			if w.next() != '"' {
				return false
			}
			key, why, ok := w.str(true)
			if !ok {
				return false
			}
			kp := key
			if path != "" {
				kp = path + "." + key
			}
			if why != "" {
				w.bad.Add(kp, "the name "+why)
			}
			if w.next() != ':' {
				return false
			}
			w.i++
			if !w.value(kp, depth+1) {
				return false
			}
			switch w.next() {
			case ',':
				w.i++
			case '}':
				w.i++
				return true
			default:
				return false
			}
		}
	case '[':
		w.i++
		if w.next() == ']' {
			w.i++
			return true
		}
		for n := 0; ; n++ {
			if !w.value(fmt.Sprintf("%s[%d]", path, n), depth+1) {
				return false
			}
			switch w.next() {
			case ',':
				w.i++
			case ']':
				w.i++
				return true
			default:
				return false
			}
		}
	case '"':
		_, why, ok := w.str(false)
		if why != "" {
			w.bad.Add(path, why)
		}
		return ok
	case 0:
		return false
	}
	// A number, true, false or null: the decoder judges its spelling.
	start := w.i
	for w.i < len(w.b) && (isAlnum(w.b[w.i]) || w.b[w.i] == '-' || w.b[w.i] == '+' || w.b[w.i] == '.') {
		w.i++
	}
	return w.i > start
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// str reads the string at w.i (its opening quote). It returns the text when
// want is set (bad parts as U+FFFD), what is wrong with it ("" if nothing),
// and false when the string is not terminated or has a malformed escape.
func (w *jsonWalker) str(want bool) (string, string, bool) {
	var sb strings.Builder
	why := ""
	bad := func(p string) {
		if why == "" {
			why = p
		}
		if want {
			sb.WriteRune(utf8.RuneError)
		}
	}
	w.i++ // the opening quote
	for w.i < len(w.b) {
		c := w.b[w.i]
		switch {
		case c == '"':
			w.i++
			return sb.String(), why, true
		case c == 0:
			bad("must not contain NUL")
			w.i++
		case c < utf8.RuneSelf && c != '\\':
			if want {
				sb.WriteByte(c)
			}
			w.i++
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(w.b[w.i:])
			if r == utf8.RuneError && n == 1 {
				bad("must be valid UTF-8")
			} else if want {
				sb.WriteRune(r)
			}
			w.i += n
		default: // a backslash
			if w.i+1 >= len(w.b) {
				return "", "", false
			}
			e := w.b[w.i+1]
			if e != 'u' {
				r, ok := jsonEscapes[e]
				if !ok {
					return "", "", false
				}
				if want {
					sb.WriteByte(r)
				}
				w.i += 2
				continue
			}
			r, ok := w.hex4(w.i + 2)
			if !ok {
				return "", "", false
			}
			w.i += 6
			switch {
			case r == 0:
				bad("must not contain NUL")
			case utf16.IsSurrogate(r):
				lo, ok := rune(-1), false
				if r < 0xdc00 && w.i+1 < len(w.b) && w.b[w.i] == '\\' && w.b[w.i+1] == 'u' {
					lo, ok = w.hex4(w.i + 2)
				}
				if pair := utf16.DecodeRune(r, lo); ok && pair != utf8.RuneError {
					w.i += 6
					if want {
						sb.WriteRune(pair)
					}
				} else {
					bad("must be valid UTF-8 (a lone UTF-16 surrogate escape)")
				}
			case want:
				sb.WriteRune(r)
			}
		}
	}
	return "", "", false
}

var jsonEscapes = map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// hex4 reads the four hex digits of a \u escape at b[at:].
func (w *jsonWalker) hex4(at int) (rune, bool) {
	if at+4 > len(w.b) {
		return 0, false
	}
	var r rune
	for _, c := range w.b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
