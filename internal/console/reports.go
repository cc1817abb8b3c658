package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// speedPageData is the speed-to-lead page: the period asked for (days in
// the org's time zone, as typed), the report, and a chart per table.
type speedPageData struct {
	From, To    string
	Zone        string
	Report      *store.SpeedReport
	SourceChart speedChart
	UserChart   speedChart
}

// speedToLeadPage shows GET /v1/orgs/{org}/reports/speed-to-lead for a
// period of whole days (a GET form, so a period is a link to share): by
// default the last 7 days up to today. The API decides who may read it
// (owner, admin, manager) and refuses a bad day at its field.
func (c *Console) speedToLeadPage(w http.ResponseWriter, r *http.Request, v *visit) {
	org, err := c.org(r, v)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	today := time.Now().In(domain.OrgLocation(org.Timezone))
	d := speedPageData{From: today.AddDate(0, 0, -6).Format(time.DateOnly), To: today.Format(time.DateOnly), Zone: org.Timezone}
	q := r.URL.Query()
	if f := q.Get("from"); f != "" {
		d.From = f
	}
	if t := q.Get("to"); t != "" {
		d.To = t
	}
	vw := view{Title: "Speed to lead", V: v, Form: map[string][]string{"from": {d.From}, "to": {d.To}}}
	status := http.StatusOK
	var rep store.SpeedReport
	if _, err := c.call(r, v, "GET", "/v1/orgs/"+v.Session.User.OrgID+"/reports/speed-to-lead?"+
		url.Values{"from": {d.From}, "to": {d.To}}.Encode(), nil, &rep); err != nil {
		st, msg, fields, ok := refused(err)
		if !ok || st != http.StatusUnprocessableEntity {
			c.failed(w, r, v, err)
			return
		}
		status, vw.Fields = st, fields
		vw.Problem = "The period was refused (" + msg + "): see the fields marked below."
	} else {
		d.Report = &rep
		d.SourceChart = newSpeedChart("source-chart", "Time to assignment and to worked, per source", rep.Sources, func(r store.SpeedRow) string { return r.Source })
		d.UserChart = newSpeedChart("user-chart", "Time to assignment and to worked, per user", rep.Users, speedUserName)
	}
	vw.Data = d
	c.render(w, r, status, "reports", vw)
}

// speedUserName is how the page names a user's line: a user deleted since
// has no name left, only the id.
func speedUserName(r store.SpeedRow) string {
	if r.Name == "" {
		return "user " + r.UserID
	}
	return r.Name
}

// UserName is speedUserName for the template.
func (speedPageData) UserName(r store.SpeedRow) string { return speedUserName(r) }

// Cells are a line's numbers as its table row shows them, in the
// columns' order.
func (d speedPageData) Cells(r store.SpeedRow) []string {
	return []string{fmt.Sprint(r.Leads), fmt.Sprint(r.Assigned), d.Secs(r.ToAssignment.MedianSeconds), d.Secs(r.ToAssignment.P90Seconds),
		fmt.Sprint(r.Worked), d.Secs(r.ToWorked.MedianSeconds), d.Secs(r.ToWorked.P90Seconds), fmt.Sprint(r.Breaches), fmt.Sprint(r.Escalations)}
}

// Secs writes a median or p90 as a person reads it ("1 h 5 min"), a dash
// when no lead got that far.
func (speedPageData) Secs(p *float64) string {
	if p == nil {
		return "–"
	}
	return humanSeconds(*p)
}

// humanSeconds rounds s to its two largest units: 42 s, 3 min 20 s, 2 h 5
// min, 1 d 3 h; under 10 s to a tenth (0.4 s), since routing straight to a
// person takes well under a second and "0 s" would hide it.
func humanSeconds(s float64) string {
	if s < 9.95 {
		return strings.TrimSuffix(strconv.FormatFloat(s, 'f', 1, 64), ".0") + " s"
	}
	n := int64(s + 0.5)
	units := []struct {
		size int64
		name string
	}{{86400, "d"}, {3600, "h"}, {60, "min"}, {1, "s"}}
	for i, u := range units {
		if n < u.size && u.size > 1 {
			continue
		}
		out := fmt.Sprintf("%d %s", n/u.size, u.name)
		if i+1 < len(units) {
			if rest := n % u.size / units[i+1].size; rest > 0 {
				out += fmt.Sprintf(" %d %s", rest, units[i+1].name)
			}
		}
		return out
	}
	return "0 s"
}

// speedChart is a server-drawn bar chart (inline SVG, no script): per
// line of a table, four bars (median and p90 to assignment, median and p90
// to worked) on one scale. The table beside it holds the same numbers for
// those who cannot see it.
type speedChart struct {
	ID, Title, Desc string
	Width, Height   int
	Lines           []speedChartLine
	// Max is the scale's end, as a person reads it.
	Max string
}

type speedChartLine struct {
	Label  string
	LabelY int
	Bars   []speedBar
}

// speedBar is one bar: Value is written beside it, Title (what it
// measures and its value) is its tooltip.
type speedBar struct {
	Class, Value, Title string
	Y, W, TextX, TextY  int
}

// The chart's geometry, in SVG user units: a label column, then bars.
const (
	chartLabelW = 180
	chartBarsW  = 460
	chartBarH   = 12
	chartLineH  = 4*chartBarH + 22
	chartTop    = 8
)

// speedBarKinds are the four bars of a line, in their order; the page's
// legend names them with the same classes.
var speedBarKinds = []struct{ class, what string }{
	{"bar-a50", "median to assignment"}, {"bar-a90", "p90 to assignment"},
	{"bar-w50", "median to worked"}, {"bar-w90", "p90 to worked"},
}

func newSpeedChart(id, title string, rows []store.SpeedRow, label func(store.SpeedRow) string) speedChart {
	ch := speedChart{ID: id, Title: title, Width: chartLabelW + chartBarsW + 120,
		Desc: "Bars of the median and 90th-percentile times from arrival to assignment and to worked; the table below holds the same numbers."}
	var top float64
	for _, r := range rows {
		for _, p := range []*float64{r.ToAssignment.MedianSeconds, r.ToAssignment.P90Seconds, r.ToWorked.MedianSeconds, r.ToWorked.P90Seconds} {
			if p != nil && *p > top {
				top = *p
			}
		}
	}
	ch.Max = humanSeconds(top)
	y := chartTop
	for _, r := range rows {
		line := speedChartLine{Label: chartLabel(label(r)), LabelY: y + 2*chartBarH + 4}
		for i, p := range []*float64{r.ToAssignment.MedianSeconds, r.ToAssignment.P90Seconds, r.ToWorked.MedianSeconds, r.ToWorked.P90Seconds} {
			b := speedBar{Class: speedBarKinds[i].class, Y: y + i*(chartBarH+2)}
			b.Value = "none"
			if p != nil {
				b.Value = humanSeconds(*p)
				if top > 0 {
					b.W = max(1, int(*p/top*chartBarsW+0.5))
				}
			}
			b.Title = line.Label + ", " + speedBarKinds[i].what + ": " + b.Value
			b.TextX, b.TextY = chartLabelW+b.W+6, b.Y+chartBarH-2
			line.Bars = append(line.Bars, b)
		}
		ch.Lines = append(ch.Lines, line)
		y += chartLineH
	}
	ch.Height = y + chartTop
	return ch
}

// Legend is the chart's key, in the bars' order.
func (speedChart) Legend() []struct{ Class, What string } {
	out := make([]struct{ Class, What string }, len(speedBarKinds))
	for i, k := range speedBarKinds {
		out[i].Class, out[i].What = k.class, k.what
	}
	return out
}

// BarX is where every bar starts, after the label column.
func (speedChart) BarX() int { return chartLabelW }

// BarH is each bar's height.
func (speedChart) BarH() int { return chartBarH }

// chartLabel shortens a label to what fits the label column; the table
// holds it whole.
func chartLabel(s string) string {
	r := []rune(s)
	if len(r) <= 24 {
		return s
	}
	return string(r[:23]) + "…"
}
