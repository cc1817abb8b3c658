package console

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

func staticFiles() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	return http.FileServer(http.FS(sub))
}

// fieldErr is one field's refusal and the id of its input.
type fieldErr struct{ ID, Text string }

// view is what every page template gets.
type view struct {
	Title string
	V     *visit
	// Problem is a refusal of the whole request; Fields the refusals of
	// single fields, shown next to them.
	Problem string
	Fields  map[string]string
	// Form holds what the person typed, to fill a refused form in again.
	Form map[string][]string
	Data any
}

var funcs = template.FuncMap{
	// field is the refusal of one field ("" when none).
	"field": func(v view, name string) string { return v.Fields[name] },
	// fielderr is what the "err" template shows for field name, whose input
	// has the id: {{template "err" (fielderr . "email" "email")}}.
	"fielderr": func(v view, name, id string) fieldErr { return fieldErr{ID: id, Text: v.Fields[name]} },
	// value is what the person typed into a field of a refused form.
	"value": func(v view, name string) string {
		if vs := v.Form[name]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	},
	"when": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if t == nil || t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		case string:
			if p, err := time.Parse(time.RFC3339Nano, t); err == nil {
				return p.UTC().Format("2006-01-02 15:04 UTC")
			}
			return t
		}
		return ""
	},
	"iso": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			return t.UTC().Format(time.RFC3339)
		case *time.Time:
			if t != nil {
				return t.UTC().Format(time.RFC3339)
			}
		case string:
			return t
		}
		return ""
	},
	"current": func(v *visit, prefix string) bool {
		return v.Path == prefix || strings.HasPrefix(v.Path, prefix+"/")
	},
	"join": strings.Join,
	// add1 numbers from 1 what range numbers from 0.
	"add1": func(i int) int { return i + 1 },
}

// pages are the parsed templates: each page is layout.html and parts.html
// with the page's own file, which defines "content".
var pages = func() map[string]*template.Template {
	base := template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html"))
	names, _ := fs.Glob(templateFS, "templates/*.html")
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "parts" {
			continue
		}
		out[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, n))
	}
	return out
}()

// render writes page name with status. It renders into a buffer first, so
// a template error is a clean 500 page rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, vw view) {
	t, ok := pages[name]
	if !ok {
		c.Log.Error("no such page template", zap.String("page", name))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if v := vw.V; v != nil && v.User() != nil {
		v.Paused = c.myPause(r, v)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", vw); err != nil {
		c.Log.Error("page template failed", zap.String("page", name), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// problem renders a page that only says what went wrong, with status.
func (c *Console) problem(w http.ResponseWriter, r *http.Request, v *visit, status int, title, msg string) {
	c.render(w, r, status, "problem", view{Title: title, V: v, Problem: msg})
}

// notFound is every missing thing, including another org's (as in the API).
func (c *Console) notFound(w http.ResponseWriter, r *http.Request, v *visit) {
	if v == nil {
		v = &visit{Path: r.URL.Path}
		v.Session, _ = c.session(r)
	}
	c.problem(w, r, v, http.StatusNotFound, "Not found", "There is nothing here, or it is not yours to see.")
}

// refuseForm answers a POST without its page's CSRF token: nothing changed.
func (c *Console) refuseForm(w http.ResponseWriter, r *http.Request, v *visit) {
	c.problem(w, r, v, http.StatusForbidden, "This form has expired",
		"Nothing was changed. The form was sent without its security token, or from another page. Go back, reload the page and try again.")
}

// failed renders an API refusal or failure as a page: the API's own words
// for a 4xx, a plain apology for anything else (its details are in the log).
func (c *Console) failed(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	ae, ok := err.(*apiError)
	switch {
	case ok && ae.Status == http.StatusNotFound:
		c.notFound(w, r, v)
	case ok && ae.Status < 500:
		c.problem(w, r, v, ae.Status, "Not done", ae.Message)
	default:
		c.Log.Error("page failed", zap.String("path", redactPath(r.URL.Path)), zap.Error(err))
		c.problem(w, r, v, http.StatusServiceUnavailable, "Something went wrong",
			"Nothing may have been changed. Try again in a moment.")
	}
}
