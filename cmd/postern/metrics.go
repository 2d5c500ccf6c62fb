package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/policy"
)

// metrics are what serve exports at [metrics] listen, for Prometheus.
type metrics struct {
	reg      *prometheus.Registry
	messages *prometheus.CounterVec
	duration prometheus.Histogram
	steps    *prometheus.HistogramVec
	keep     prometheus.Histogram
	size     prometheus.Histogram
	clamdUp  prometheus.Gauge
	rcpts    *prometheus.CounterVec
	greylist *prometheus.CounterVec
	dnsbl    *prometheus.CounterVec
	dnsFails prometheus.Counter
	// reloadOK and reloadAt are the last SIGHUP's outcome, as Prometheus
	// reports its own (prometheus_config_last_reload_successful): an alert on
	// 0 finds an edit that did not take.
	reloadOK prometheus.Gauge
	reloadAt prometheus.Gauge
	book     *statsBook
}

func newMetrics(comp *components) *metrics {
	m := &metrics{
		book: newStatsBook(),
		reg:  prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postern_messages_total", Help: "Messages answered, by action and reason.",
		}, []string{"action", "reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "postern_check_seconds", Help: "Time the checks of one message took.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "postern_check_step_seconds", Help: "Time the parse (step \"parse\") and each check of one message took; the checks run side by side.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"step"}),
		// After the checks and before the reply: a slow disk under data_dir
		// shows here, not in the checks' times.
		keep: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "postern_quarantine_write_seconds", Help: "Time writing and committing a refused or held message's quarantine copy took, before its answer.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		size: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "postern_message_bytes", Help: "Size of checked messages.",
			Buckets: prometheus.ExponentialBuckets(1024, 4, 10),
		}),
		clamdUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "postern_clamd_up", Help: "1 when clamd answered the last PING (every 30 s), 0 when not, -1 when virus scanning is off.",
		}),
	}
	m.rcpts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "postern_recipients_total", Help: "Envelope decisions at RCPT TO, by action and reason (reason \"\" when no check applied).",
	}, []string{"action", "reason"})
	m.greylist = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "postern_greylist_total", Help: "Greylisting outcomes: new, early, passed, known, auto-allowed, skipped, error.",
	}, []string{"outcome"})
	m.dnsbl = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "postern_dnsbl_hits_total", Help: "Block-list listings of clients, by zone and action (reject or score).",
	}, []string{"zone", "action"})
	m.dnsFails = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "postern_envelope_check_errors_total", Help: "Envelope checks that failed (DNS timeouts and errors, block lists that refused the query, greylisting store errors); none of them rejects mail.",
	})
	m.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "postern_config_last_reload_successful", Help: "1 when the last SIGHUP applied the whole configuration (file, rules, lists, settings), 0 when some part kept its old value for an error (the log says which); 1 from start.",
	})
	m.reloadAt = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "postern_config_last_reload_success_timestamp_seconds", Help: "When the configuration in use was last applied whole: the start, or the last SIGHUP that applied all of it.",
	})
	m.reloadOK.Set(1)
	m.reloadAt.SetToCurrentTime()
	m.reg.MustRegister(m.rcpts, m.greylist, m.dnsbl, m.dnsFails, m.reloadOK, m.reloadAt)
	m.reg.MustRegister(m.messages, m.duration, m.steps, m.keep, m.size, m.clamdUp,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if comp.Bayes != nil {
		b := comp.Bayes
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "postern_bayes_tokens", Help: "Tokens in the Bayes model.",
		}, func() float64 { return float64(b.Model.Len()) }))
		for _, class := range []string{"spam", "ham"} {
			m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "postern_bayes_learned", Help: "Messages the Bayes model has learned.", ConstLabels: prometheus.Labels{"class": class},
			}, func() float64 {
				s, h := b.Model.Totals()
				if class == "spam" {
					return float64(s)
				}
				return float64(h)
			}))
		}
	}
	if dnsr := comp.Resolver; dnsr != nil {
		for name, help := range map[string]string{
			"postern_dns_queries_total":    "DNS queries sent to the [dns] resolver.",
			"postern_dns_failures_total":   "DNS queries that timed out or failed (they never reject mail).",
			"postern_dns_cache_hits_total": "DNS answers taken from Postern's own cache.",
		} {
			m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 {
				s := dnsr.Stats()
				return float64(map[string]int64{"postern_dns_queries_total": s.Queries,
					"postern_dns_failures_total": s.Failures, "postern_dns_cache_hits_total": s.CacheHits}[name])
			}))
		}
	}
	if comp.Rules != nil {
		r := comp.Rules
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "postern_rules", Help: "Rules in the set in use.",
		}, func() float64 { return float64(r.Set().Len()) }))
		// The rules' DFAs grow with the mail seen, up to a bound per rule
		// (docs/rules.md): the one part of postern's memory that does.
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "postern_rules_dfa_bytes", Help: "Bytes of the transition tables the rules' DFAs have built so far.",
		}, func() float64 { _, b := r.Set().DFACache(); return float64(b) }))
	}
	return m
}

// observe is the milter's OnVerdict.
func (m *metrics) observe(v filter.Verdict, size int64) {
	m.book.verdict(v, size)
	m.messages.WithLabelValues(v.Action.String(), v.Reason).Inc()
	if v.Duration > 0 {
		m.duration.Observe(v.Duration.Seconds())
	}
	for _, t := range v.Times {
		m.steps.WithLabelValues(t.Step).Observe(t.Duration.Seconds())
	}
	if v.Keep > 0 {
		m.keep.Observe(v.Keep.Seconds())
	}
	if size > 0 {
		m.size.Observe(float64(size))
	}
}

// reloaded records a SIGHUP's outcome: whole is false when some part of the
// configuration kept its old value.
func (m *metrics) reloaded(whole bool) {
	if !whole {
		m.reloadOK.Set(0)
		return
	}
	m.reloadOK.Set(1)
	m.reloadAt.SetToCurrentTime()
}

// observeRcpt is the milter's OnEnvelope.
func (m *metrics) observeRcpt(d policy.Decision) {
	m.book.recipient(d)
	m.rcpts.WithLabelValues(d.Action.String(), d.Reason).Inc()
	if d.Greylist != "" {
		m.greylist.WithLabelValues(d.Greylist).Inc()
	}
	for _, h := range d.Hits {
		action := "score"
		if h.Reject {
			action = "reject"
		}
		m.dnsbl.WithLabelValues(h.Zone, action).Inc()
	}
	m.dnsFails.Add(float64(len(d.Errors)))
}

// probe is one thing serve needs to do its work, asked by /healthz.
type probe struct {
	name  string
	check func(ctx context.Context) error
}

// healthz answers 200 "ok" when every probe passes within its deadline, and 503
// with one line per failing probe otherwise: a load balancer or a monitor reads the
// code, an operator the reasons.
func healthz(probes []probe) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		type result struct {
			name string
			err  error
		}
		ch := make(chan result, len(probes))
		for _, p := range probes {
			go func(p probe) { ch <- result{p.name, p.check(ctx)} }(p)
		}
		var bad []string
		for range probes {
			if r := <-ch; r.err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", r.name, r.err))
			}
		}
		sort.Strings(bad)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if len(bad) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "unhealthy\n%s\n", strings.Join(bad, "\n"))
			return
		}
		names := make([]string, len(probes))
		for i, p := range probes {
			names[i] = p.name
		}
		sort.Strings(names)
		fmt.Fprintf(w, "ok (%s)\n", strings.Join(names, ", "))
	}
}

// serve runs the metrics endpoint and the clamd health probe until ctx ends.
func (m *metrics) serve(ctx context.Context, listen string, comp *components, log logrus.FieldLogger, probes ...probe) {
	go func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			if comp.Clamd == nil {
				m.clamdUp.Set(-1)
			} else {
				pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				if err := comp.Clamd.Ping(pctx); err != nil {
					m.clamdUp.Set(0)
				} else {
					m.clamdUp.Set(1)
				}
				cancel()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	if listen == "" {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.Handle("/healthz", healthz(probes))
	mux.HandleFunc("/stats", m.book.handler)
	srv := &http.Server{Addr: listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).Error("metrics endpoint failed")
		}
	}()
	log.WithField("metrics", "http://"+listen+"/metrics").Info("metrics endpoint")
}
