package main

import (
	"context"
	stdlog "log"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postern/postern/clamav"
	"github.com/postern/postern/config"
	"github.com/postern/postern/milter"
	"github.com/postern/postern/policy"
	"github.com/postern/postern/quarantine"
	"github.com/postern/postern/rules"
	"github.com/postern/postern/score"
)

func runServe(args []string) int {
	fs, c := newFlags("serve", "serve [--listen ADDR] [-c FILE] [--data-dir DIR]", `
Runs the milter daemon. Point Postfix at it:

    smtpd_milters = inet:127.0.0.1:8895
    milter_default_action = tempfail

Every message is checked before Postfix answers the end of DATA: accepted with
X-Spam-* headers, rejected (550/554) or tempfailed (451). SIGTERM stops accepting
connections and lets messages in flight finish within milter.shutdown_timeout.`)
	listen := fs.String("listen", "", "`ADDR` to listen on, inet:HOST:PORT or unix:PATH (overrides milter.listen)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the messages' work, from the end of start-up to shutdown, to `FILE` (go tool pprof)")
	memProfile := fs.String("memprofile", "", "at shutdown, write a profile of the live heap to `FILE` (go tool pprof)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	// Before anything slow (loading rules, opening stores): a SIGHUP's default action
	// is to exit, and one sent while starting (postern rules reload, logrotate) must
	// not stop the daemon. Signals that come early wait in the channel.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	cfg, err := c.load(fs)
	if err != nil {
		return fail("%v", err)
	}
	if *listen != "" {
		cfg.Milter.Listen = *listen
	}
	if ps := cfg.Validate(); len(ps) > 0 {
		return fail("%v", ps)
	}
	log := newLogger(cfg)
	routeLibraryLog(log)
	if err := ensureDataDir(cfg); err != nil {
		return fail("%v", err)
	}
	network, address, _ := config.ParseListen(cfg.Milter.Listen)
	ln, err := milter.Listen(network, address)
	if err != nil {
		return fail("%v", err)
	}
	comp, err := build(cfg, true, log)
	if err != nil {
		return fail("%v", err)
	}
	defer comp.Close()
	store, err := openQuarantineStore(cfg)
	if err != nil {
		return fail("%v", err)
	}
	defer store.Close()
	env, err := buildEnvelope(cfg, true, comp.Resolver, comp.Class)
	if err != nil {
		return fail("%v", err)
	}
	defer env.Close()
	srv := &milter.Server{
		Policies:   env.Policy,
		Pipelines:  comp.Current,
		Log:        log,
		Quarantine: store,
		Opts:       milterOptions(cfg),
	}
	met := newMetrics(comp)
	srv.OnVerdict = met.observe
	srv.OnEnvelope = met.observeRcpt
	mctx, stopMetrics := context.WithCancel(context.Background())
	defer stopMetrics()
	met.serve(mctx, cfg.Metrics.Listen, comp, log, healthProbes(comp, store, env)...)
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return fail("%v", err)
		}
		defer stop()
	}
	if *memProfile != "" {
		defer func() {
			if err := writeHeapProfile(*memProfile); err != nil {
				log.WithError(err).Error("memprofile")
			}
		}()
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.WithFields(map[string]any{
		"listen": cfg.Milter.Listen, "data_dir": cfg.DataDir, "storage": describeStorage(cfg), "version": Version,
		"required_score": cfg.RequiredScore, "reject_score": cfg.RejectScore, "on_error": cfg.OnError,
		"banned_attachments": cfg.Attachments.Enabled, // refusals an operator must know are on (docs/attachments.md)
		"recipient_settings": len(cfg.Recipients),     // [recipients] entries, whose scores replace the two above
	}).Info("postern serving")
	probeClamd(log, comp.Clamd, cfg)
	env.describe(log, cfg)
	if env.Grey != nil {
		stopGrey := greyExpireLoop(log, env.Grey, func() policy.GreylistConfig { return env.Policy().Greylist.Config })
		defer stopGrey()
	}
	// The configuration in use: cfg, then a SIGHUP's (config.Reloaded). The
	// loops below read their settings from it at each run.
	var current atomic.Pointer[config.Config]
	current.Store(&cfg)
	bayesChanged := func() {}
	if comp.Bayes != nil {
		var stopBayes func()
		stopBayes, bayesChanged = bayesLoop(log, comp.Bayes, func() config.Bayes { return current.Load().Bayes })
		defer stopBayes()
	}
	stopPurge := purgeLoop(log, store, func() time.Duration { return current.Load().Quarantine.Retention.D() })
	defer stopPurge()
	stopAutomata := comp.Automata.saveLoop(comp.Rules)
	defer stopAutomata()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fail("%v", err)
			}
			return 0
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				n, loaded, whole := reload(log, cfg, *current.Load(), comp, env, srv, func() (config.Config, error) {
					n, err := c.load(fs)
					if *listen != "" {
						n.Milter.Listen = *listen
					}
					return n, err
				})
				if loaded {
					current.Store(&n)
					bayesChanged()
				}
				met.reloaded(whole)
				continue
			}
			log.WithField("signal", sig.String()).Info("shutting down: letting messages in flight finish")
			ctx, cancel := context.WithTimeout(context.Background(), current.Load().Milter.ShutdownTimeout.D())
			err := srv.Shutdown(ctx)
			cancel()
			<-done
			if err != nil {
				log.WithError(err).Warn("shutdown deadline passed")
				return 1
			}
			log.Info("stopped")
			return 0
		}
	}
}

// routeLibraryLog sends what go-milter prints with the standard logger (garbage on the
// socket, broken connections) through logrus, so every line has one format.
func routeLibraryLog(log *logrus.Logger) {
	stdlog.SetFlags(0)
	stdlog.SetOutput(libraryLog{log.WithField("component", "go-milter")})
}

type libraryLog struct{ e *logrus.Entry }

func (l libraryLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "use of closed network connection") {
		l.e.Debug(msg) // our own shutdown closing idle connections
	} else {
		l.e.Warn(msg)
	}
	return len(p), nil
}

// probeClamd says loudly at start whether virus scanning works. Postern starts either
// way: while clamd is down, mail is tempfailed (or marked unscanned, per on_scan_error).
func probeClamd(log *logrus.Logger, clamd *clamav.Client, cfg config.Config) {
	if clamd == nil {
		log.Warn("virus scanning is OFF: no [clamd] address configured")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l := log.WithFields(logrus.Fields{"clamd": cfg.Clamd.Address, "on_scan_error": cfg.Clamd.OnScanError})
	if err := clamd.Ping(ctx); err != nil {
		l.WithError(err).Error("clamd is NOT answering: mail will be " + map[string]string{
			"tempfail": "tempfailed (451)", "accept": "delivered marked X-Virus-Status: Unscanned",
		}[cfg.Clamd.OnScanError] + " until it does")
		return
	}
	l.Info("clamd answers: virus scanning is on")
}

// purgeLoop removes quarantine records past their retention (the one in use
// at each run) now and every hour.
func purgeLoop(log *logrus.Logger, store quarantine.Store, retentionNow func() time.Duration) func() {
	return periodic(time.Hour, func(ctx context.Context) {
		retention := retentionNow()
		n, err := store.Purge(ctx, time.Now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			log.WithError(err).Error("quarantine purge failed")
		case n > 0:
			log.WithFields(logrus.Fields{"purged": n, "retention": retention.String()}).Info("quarantine purged")
		}
	})
}

// periodic runs f now and then every interval, until the returned stop is called
// (which cancels f's context and waits for it). Each run's context ends after the
// interval: a database that stopped answering must not hold the loop for ever.
func periodic(interval time.Duration, f func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			rctx, rcancel := context.WithTimeout(ctx, interval)
			f(rctx)
			rcancel()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// refreshTimeout bounds one Bayes refresh; a reload of a large store reads every
// token, so it is generous.
const refreshTimeout = 5 * time.Minute

// bayesLoop picks up what other processes learned, every bayes.refresh, and expires
// the store above bayes.max_tokens once a day, as settings gives them then; it
// says at start whether Bayes is still in cold start. changed tells it that
// settings changed (a SIGHUP): a new refresh interval starts at once.
func bayesLoop(log *logrus.Logger, b *score.Bayes, settings func() config.Bayes) (stop, changed func()) {
	start := settings()
	spam, ham := b.Model.Totals()
	l := log.WithFields(logrus.Fields{"bayes_spam": spam, "bayes_ham": ham, "bayes_tokens": b.Model.Len()})
	if cs := b.ColdStart(); cs != "" {
		if start.Autolearn && start.AutolearnVeto > 0 {
			// Said here, or an operator waits for autolearning to bootstrap the store.
			cs += "; nothing is autolearned until then (bayes.autolearn_veto): teach it with postern learn"
		}
		l.Warn(cs)
	} else {
		l.Info("bayes: ready")
	}
	if w := b.TrigramMismatch(); w != "" {
		l.Warn(w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	poked := make(chan struct{}, 1)
	go func() {
		defer close(done)
		every := start.Refresh.D()
		refresh := time.NewTicker(every)
		defer refresh.Stop()
		expire := time.NewTicker(24 * time.Hour)
		defer expire.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-poked:
				if d := settings().Refresh.D(); d != every {
					every = d
					refresh.Reset(d)
					log.WithField("refresh", d.String()).Info("bayes: refresh interval changed")
				}
			case <-refresh.C:
				// A refresh holds the model's refresh lock (and autolearning waits
				// on it): it must end even when the database stops answering.
				rctx, rcancel := context.WithTimeout(ctx, refreshTimeout)
				if err := b.Refresh(rctx); err != nil && ctx.Err() == nil {
					log.WithError(err).Error("bayes: refresh failed")
				}
				rcancel()
			case <-expire.C:
				rctx, rcancel := context.WithTimeout(ctx, time.Hour)
				n, err := b.Store.Expire(rctx, settings().MaxTokens)
				if err == nil && n > 0 {
					err = b.Reload(rctx)
					log.WithField("expired", n).Info("bayes: expired tokens")
				}
				rcancel()
				if err != nil && ctx.Err() == nil {
					log.WithError(err).Error("bayes: expire failed")
				}
			}
		}
	}()
	stop = func() { cancel(); <-done }
	changed = func() {
		select {
		case poked <- struct{}{}:
		default: // the loop has yet to read an earlier change, and reads this one with it
		}
	}
	return stop, changed
}

// reload is SIGHUP's: the configuration file is read again, and its rules, its
// lists, its envelope checks and its verdict settings replace the running
// ones, each only when it has no errors (the old one stays otherwise, and the
// log says why). Changes to other keys are logged as waiting for a restart,
// against what serve started with (started); those applied, against the
// configuration in use until now (current). It returns the configuration in
// use from now on (loaded false: the file had errors, nothing changed), and
// whether every part of it was applied (whole).
func reload(log *logrus.Logger, started, current config.Config, comp *components, env *envelope, srv *milter.Server, load func() (config.Config, error)) (cfg config.Config, loaded, whole bool) {
	file, err := load()
	if err != nil {
		log.WithError(err).Error("SIGHUP: configuration has errors: keeping the old rules, lists and settings")
		return current, false, false
	}
	var restart []string
	for _, k := range config.Changed(started, file) {
		if !config.Reloads(k) {
			restart = append(restart, k)
		}
	}
	cfg = config.Reloaded(started, file) // nothing below can take up those keys
	setLogging(log, cfg)
	srv.SetOptions(milterOptions(cfg))
	whole = reloadRules(log, comp.Rules, cfg)
	whole = reloadEnvelope(log, env, comp.Class, cfg) && whole
	if p, err := comp.Reload(cfg); err != nil {
		log.WithError(err).Error("SIGHUP: settings have errors: keeping the old ones")
		whole = false
	} else {
		log.WithFields(logrus.Fields{"required_score": cfg.RequiredScore, "reject_score": cfg.RejectScore,
			"recipient_settings": p.Recipients.Len(), "banned_attachments": cfg.Attachments.Enabled}).Info("SIGHUP: settings reloaded")
	}
	if len(restart) > 0 {
		log.WithField("keys", strings.Join(restart, " ")).Warn("SIGHUP: changed in the configuration, but kept as they were until a restart")
	}
	// What the operator's edit did, by name. When a part failed, its keys are
	// among the changed but kept their old values (the part's error above
	// says which): the line must not call them applied.
	changed := config.Changed(current, cfg)
	switch keys := log.WithField("keys", strings.Join(changed, " ")); {
	case len(changed) == 0:
		log.Info("SIGHUP: no key changed (rule and list files are read again all the same)")
	case whole:
		keys.Info("SIGHUP: applied the changed keys")
	default:
		keys.Warn("SIGHUP: changed keys, applied but for those of the parts with errors above, which kept their old values")
	}
	return cfg, true, whole
}

// milterOptions are the milter's per-message settings from cfg: the spool's
// limits, and the authserv-id whose forged headers are removed.
func milterOptions(cfg config.Config) milter.Options {
	o := milter.Options{
		MemorySpool:    int64(cfg.Limits.MemorySpool),
		SpoolDir:       cfg.Limits.SpoolDir,
		MaxMessageSize: int64(cfg.Limits.MaxMessageSize),
	}
	if cfg.Auth.Enabled {
		o.AuthservID = authservID(cfg)
	}
	return o
}

// reloadRules reads cfg's rule paths and swaps the new set in; on any error the
// old set stays, every error is logged, and it reports false.
func reloadRules(log *logrus.Logger, check *rules.Check, cfg config.Config) bool {
	set, problems, err := loadRules(cfg.RulesPaths)
	if err != nil {
		log.WithError(err).Error("SIGHUP: rules have errors: keeping the old rules")
		return false
	}
	// The DFAs of the rules that did not change go on from what they learned.
	dfas, states, err := set.AdoptAutomata(check.Set())
	if err != nil {
		log.WithError(err).Warn("SIGHUP: the rules' DFAs start empty")
	}
	check.Swap(set)
	log.WithFields(logrus.Fields{"rules": set.Len(), "warnings": len(problems), "dfas_kept": dfas, "states_kept": states}).Info("SIGHUP: rules reloaded")
	return true
}

// reloadEnvelope builds the envelope checks from cfg (the lists among them)
// for the connections opened from now on (the milter asks env.Policy). Lists
// with an error keep the old lists, other settings with an error the old
// checks; it reports false for either.
func reloadEnvelope(log *logrus.Logger, env *envelope, class func(string) string, cfg config.Config) bool {
	p, lists, settings := env.reload(cfg, class)
	if lists != nil {
		log.WithError(lists).Error("SIGHUP: lists have errors: keeping the old lists")
	} else {
		log.WithFields(logrus.Fields{"allow_entries": p.Allow.Load().Len(),
			"deny_entries": p.Deny.Load().Len()}).Info("SIGHUP: lists reloaded")
	}
	if settings != nil {
		log.WithError(settings).Error("SIGHUP: envelope settings have errors: keeping the old ones")
		return false
	}
	log.WithFields(env.fields(cfg)).Info("SIGHUP: envelope checks reloaded")
	return lists == nil
}

// healthProbes are what /healthz asks: clamd when virus scanning is on, and every
// database serve writes to.
func healthProbes(comp *components, store quarantineStore, env *envelope) []probe {
	ps := []probe{{"quarantine", store.Ping}}
	if comp.Clamd != nil {
		ps = append(ps, probe{"clamd", comp.Clamd.Ping})
	}
	if comp.Bayes != nil {
		if p, ok := comp.Bayes.Store.(interface{ Ping(context.Context) error }); ok {
			ps = append(ps, probe{"bayes", p.Ping})
		}
	}
	if env.Grey != nil {
		ps = append(ps, probe{"greylist", env.Grey.Ping})
	}
	return ps
}
