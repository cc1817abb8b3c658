package mailcatcher

import (
	"encoding/json"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

var urlRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// linkify escapes text and makes its URLs clickable links that open outside
// the inbox (the invitation page refuses to be framed).
func linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range urlRE.FindAllStringIndex(text, -1) {
		b.WriteString(template.HTMLEscapeString(text[last:m[0]]))
		u := template.HTMLEscapeString(text[m[0]:m[1]])
		b.WriteString(`<a href="` + u + `" target="_blank" rel="noopener">` + u + `</a>`)
		last = m[1]
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String())
}

var page = template.Must(template.New("inbox").Funcs(template.FuncMap{"linkify": linkify}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>leadrelay inbox</title>
<style>body{font-family:system-ui,sans-serif;margin:1rem;max-width:960px}table{border-collapse:collapse;width:100%}
td,th{padding:.4rem;border-bottom:1px solid #ddd;text-align:left}a{color:#0b5cad}.m{color:#666;font-size:.9em}
iframe{width:100%;height:60vh;border:1px solid #ccc}pre{white-space:pre-wrap;background:#f6f6f6;padding:.5rem}</style></head><body>
{{if .One}}{{with .One}}<p><a href="/">← inbox</a></p><h2>{{.Subject}}</h2>
<p class="m">From {{.From}} to {{range .To}}{{.}} {{end}}· {{.Received.Format "2006-01-02 15:04:05"}} · Message-ID {{.MessageID}}</p>
<h3>Plain text</h3><pre>{{linkify .Text}}</pre>{{if .HTML}}<h3>HTML</h3><iframe sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="<base target=&quot;_blank&quot;>{{.HTML}}"></iframe>{{end}}{{end}}
{{else}}<h1>leadrelay inbox</h1><p class="m">{{len .All}} messages · the newest first · <a href="/">refresh</a></p>
<table><tr><th>When</th><th>To</th><th>Subject</th></tr>
{{range .All}}<tr><td class="m">{{.Received.Format "15:04:05"}}</td><td>{{range .To}}{{.}} {{end}}</td>
<td><a href="/messages/{{.ID}}">{{.Subject}}</a></td></tr>{{end}}</table>{{end}}
</body></html>`))

// Handler serves the inbox page, one page per message, and /api/messages (JSON).
func (c *Catcher) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		all := c.Messages()
		for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
			all[i], all[j] = all[j], all[i]
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, map[string]any{"All": all})
	})
	mux.HandleFunc("GET /messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		all := c.Messages()
		if id < 1 || id > len(all) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, map[string]any{"One": all[id-1]})
	})
	mux.HandleFunc("GET /api/messages", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.Messages())
	})
	return mux
}
