// Package metrics is leadrelay's Prometheus instrumentation: one registry per
// process holding our own counters and the Temporal SDK's metrics (through
// OpenTelemetry and its Prometheus exporter), served as Prometheus text on
// the API's GET /metrics and on the worker's METRICS_ADDR.
//
// Labels are words from small fixed sets — outcomes, routing modes, email
// kinds, route patterns — never an org, lead or user id or an address, so the
// number of series stays bounded whatever the traffic. Every method is a
// no-op on a nil *Metrics, so tests and commands that build activities or an
// API server without metrics need no stub.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// Metrics holds a process's registry and its instruments.
type Metrics struct {
	registry *prometheus.Registry
	provider *sdkmetric.MeterProvider

	leadsReceived   *prometheus.CounterVec
	leadsRouted     *prometheus.CounterVec
	speedToLead     prometheus.Histogram
	emailsSent      *prometheus.CounterVec
	emailRetries    *prometheus.CounterVec
	emailsFailed    *prometheus.CounterVec
	unrouted        *prometheus.GaugeVec
	reconcilePasses *prometheus.CounterVec
	reconciled      *prometheus.CounterVec
	invitations     *prometheus.CounterVec
	transferLeads   *prometheus.CounterVec
	handovers       *prometheus.CounterVec
	claims          prometheus.Counter
	claimsClosed    *prometheus.CounterVec
	slaSteps        *prometheus.CounterVec
	returns         prometheus.Counter
	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
}

// SpeedToLeadBuckets are the speed-to-lead histogram's upper bounds in
// seconds: a routed lead takes tens of milliseconds, a backlog seconds, an
// outage minutes, and each of those must land in a bucket of its own.
var SpeedToLeadBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}

// temporalBuckets bound the SDK's latencies (seconds). OpenTelemetry's
// default buckets are meant for milliseconds and would put every request
// in the first.
var temporalBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// New makes a process's registry: Go runtime and process metrics, ours, and
// the meter the Temporal SDK reports through.
func New() (*Metrics, error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutTargetInfo(), otelprom.WithoutScopeInfo(),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes))
	if err != nil {
		return nil, err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter), sdkmetric.WithView(sdkmetric.NewView(
		sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: temporalBuckets}})))
	m := &Metrics{registry: reg, provider: provider}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "leadrelay", Name: name, Help: help}, labels)
	}
	m.leadsReceived = counter("leads_received_total", "Lead posts answered, by outcome: new (202), duplicate (200), refused (4xx), error (5xx).", "outcome")
	m.leadsRouted = counter("leads_routed_total", "Routing decisions committed, by the source's routing mode and outcome (assigned, pending, queue, sub_agency, owner_fallback).", "mode", "outcome")
	m.speedToLead = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "leadrelay", Name: "speed_to_lead_seconds",
		Help: "From a lead's post to its first placement (assigned, pending or queue) committed.", Buckets: SpeedToLeadBuckets})
	m.emailsSent = counter("emails_sent_total", "Emails handed to the SMTP server, by kind.", "kind")
	m.emailRetries = counter("email_retries_total", "Send attempts that failed for now (SMTP outage, 4xx) and will be retried, by kind.", "kind")
	m.emailsFailed = counter("emails_failed_total", "Emails that will never be sent, by kind and reason: refused (SMTP 5xx) or gave_up (a week of retries).", "kind", "reason")
	m.unrouted = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "leadrelay", Name: "unrouted_leads",
		Help: "Leads recorded more than 2 minutes ago and still not routed, as the worker's last reconcile pass counted them."}, nil)
	m.reconcilePasses = counter("reconcile_passes_total", "Reconcile passes, by result (ok, failed).", "result")
	m.reconciled = counter("reconciled_total", "Runs the reconciler started again (or found) for stranded work, by kind.", "kind")
	m.invitations = counter("invitations_total", "Sub-agency invitations, by outcome: created, accepted, declined, revoked, expired.", "outcome")
	m.transferLeads = counter("transfer_leads_total", "Leads of transfers, by result: moved or failed.", "result")
	m.handovers = counter("handovers_total", "Handover reviews decided, by outcome: accepted, rejected, expired, withdrawn.", "outcome")
	m.claims = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "leadrelay", Name: "claims_total", Help: "Leads claimed from the queue."})
	m.claimsClosed = counter("claims_closed_total", "Claims at the end of their window, by outcome: worked, released, invalid, expired (back in the queue), ended.", "outcome")
	m.slaSteps = counter("sla_steps_total", "SLA deadlines that passed with the lead not worked, by what followed: escalated (to the next member of the rotation) or fallback (the source's fallback).", "outcome")
	m.returns = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "leadrelay", Name: "returns_total", Help: "Leads returned to their vendor."})
	m.httpRequests = counter("http_requests_total", "API requests answered, by route pattern and status code.", "route", "code")
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "leadrelay", Name: "http_request_duration_seconds",
		Help: "Time to answer an API request, by route pattern.", Buckets: prometheus.DefBuckets}, []string{"route"})
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.leadsReceived, m.leadsRouted, m.speedToLead, m.emailsSent, m.emailRetries, m.emailsFailed, m.unrouted,
		m.reconcilePasses, m.reconciled, m.invitations, m.transferLeads, m.handovers, m.claims, m.claimsClosed, m.slaSteps, m.returns,
		m.httpRequests, m.httpDuration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Handler serves the registry in Prometheus text format; a nil *Metrics
// serves an empty page, so GET /metrics exists whatever the process.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{})
	}
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Temporal is the SDK's metrics handler for client.Options.MetricsHandler:
// its counters, gauges and latencies land in this registry as temporal_*.
// onError hears what the meter refuses (the SDK's default panics).
func (m *Metrics) Temporal(onError func(error)) client.MetricsHandler {
	if m == nil {
		return client.MetricsNopHandler
	}
	return temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{Meter: m.provider.Meter("temporal-sdk-go"),
		OnError: onError, UseMonotonicCounters: true})
}

// Close releases the SDK's meter provider.
func (m *Metrics) Close(ctx context.Context) error {
	if m == nil {
		return nil
	}
	return m.provider.Shutdown(ctx)
}

// LeadReceived counts one answered lead post (new, duplicate, refused, error).
func (m *Metrics) LeadReceived(outcome string) {
	if m != nil {
		m.leadsReceived.WithLabelValues(outcome).Inc()
	}
}

// LeadRouted counts one routing decision committed by a hop.
func (m *Metrics) LeadRouted(mode, outcome string) {
	if m != nil {
		m.leadsRouted.WithLabelValues(mode, outcome).Inc()
	}
}

// SpeedToLead records the time from a lead's post to its first placement.
func (m *Metrics) SpeedToLead(d time.Duration) {
	if m != nil {
		m.speedToLead.Observe(d.Seconds())
	}
}

// EmailSent counts an email the SMTP server accepted.
func (m *Metrics) EmailSent(kind string) {
	if m != nil {
		m.emailsSent.WithLabelValues(kind).Inc()
	}
}

// EmailRetried counts a send attempt that failed for now.
func (m *Metrics) EmailRetried(kind string) {
	if m != nil {
		m.emailRetries.WithLabelValues(kind).Inc()
	}
}

// EmailFailed counts an email given up: reason refused or gave_up.
func (m *Metrics) EmailFailed(kind, reason string) {
	if m != nil {
		m.emailsFailed.WithLabelValues(kind, reason).Inc()
	}
}

// ReconcilePass records one reconciler pass: whether it finished, and the
// unrouted backlog it counted (only a finished pass counted them all).
func (m *Metrics) ReconcilePass(ok bool, unrouted int) {
	if m == nil {
		return
	}
	if !ok {
		m.reconcilePasses.WithLabelValues("failed").Inc()
		return
	}
	m.reconcilePasses.WithLabelValues("ok").Inc()
	m.unrouted.WithLabelValues().Set(float64(unrouted))
}

// Reconciled counts n runs of one kind the reconciler started or found.
func (m *Metrics) Reconciled(kind string, n int) {
	if m != nil && n > 0 {
		m.reconciled.WithLabelValues(kind).Add(float64(n))
	}
}

// Invitation counts an invitation created or ended.
func (m *Metrics) Invitation(outcome string) {
	if m != nil {
		m.invitations.WithLabelValues(outcome).Inc()
	}
}

// TransferLeads counts the leads one transfer batch moved and failed.
func (m *Metrics) TransferLeads(moved, failed int) {
	if m == nil {
		return
	}
	if moved > 0 {
		m.transferLeads.WithLabelValues("moved").Add(float64(moved))
	}
	if failed > 0 {
		m.transferLeads.WithLabelValues("failed").Add(float64(failed))
	}
}

// Handover counts a handover review decided (accepted, rejected, expired, withdrawn).
func (m *Metrics) Handover(outcome string) {
	if m != nil {
		m.handovers.WithLabelValues(outcome).Inc()
	}
}

// Claimed counts a lead claimed from the queue.
func (m *Metrics) Claimed() {
	if m != nil {
		m.claims.Inc()
	}
}

// ClaimClosed counts a claim at the end of its window, by how it ended.
func (m *Metrics) ClaimClosed(outcome string) {
	if m != nil {
		m.claimsClosed.WithLabelValues(outcome).Inc()
	}
}

// SLAStep counts a missed SLA deadline, by what followed it.
func (m *Metrics) SLAStep(outcome string) {
	if m != nil {
		m.slaSteps.WithLabelValues(outcome).Inc()
	}
}

// Returned counts a lead returned to its vendor.
func (m *Metrics) Returned() {
	if m != nil {
		m.returns.Inc()
	}
}

// HTTPRequest counts one answered API request under its route pattern
// ("POST /v1/leads"; "none" when no route was reached).
func (m *Metrics) HTTPRequest(route string, code int, took time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "none"
	}
	m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(took.Seconds())
}
