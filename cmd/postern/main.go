// Command postern is the Postern mail filter: the milter daemon and the operator's tools,
// in one binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"github.com/postern/postern/auth"
	"github.com/postern/postern/banned"
	"github.com/postern/postern/clamav"
	"github.com/postern/postern/config"
	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/gctune"
	"github.com/postern/postern/recipients"
	"github.com/postern/postern/resolver"
	"github.com/postern/postern/rules"
	"github.com/postern/postern/score"
	"github.com/postern/postern/uribl"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "0.1.0"

type command struct {
	name    string
	summary string
	run     func(args []string) int
}

func commands() []command {
	return []command{
		{"serve", "run the milter daemon that Postfix's smtpd_milters points at", runServe},
		{"check", "check message files offline with the same pipeline, print a report", runCheck},
		{"learn", "teach the Bayesian classifier: learn --spam|--ham [--forget] [--all] PATH...", runLearn},
		{"bayes", "bayes stats | export FILE | import FILE", runBayes},
		{"rules", "rules lint [PATH...] | test RULE FILE | reload: check, try and reload rule files", runRules},
		{"greylist", "greylist list | add | allow | delete: the greylisting records", runGreylist},
		{"lists", "lists show | lint | add | delete: the allow and deny lists", runLists},
		{"quarantine", "list, show, release, delete, purge the messages Postern rejected or held", runQuarantine},
		{"stats", "stats [--since 24h]: messages by action and reason, top rules, viruses, quarantine, Bayes", runStats},
		{"migrate", "migrate --from DIR|URL --to DIR|URL: copy the state between SQLite and PostgreSQL", runMigrate},
		{"config", "config test: validate the configuration; config doc: print its reference", runConfig},
		{"version", "print the version", runVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "postern %s: a mail content filter for Postfix and Sendmail (milter)\n\n", Version)
	fmt.Fprintf(w, "Usage: postern COMMAND [options] [args]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nEvery command takes -c/--config FILE (default %s; built-in defaults when\n", config.DefaultPath)
	fmt.Fprintf(w, "it is absent) and --data-dir DIR. 'postern COMMAND --help' explains one command.\n")
}

func main() {
	switch {
	case os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "":
		gctune.Start(heapBudget, defaultGCPercent)
	case os.Getenv("GOGC") == "":
		debug.SetGCPercent(defaultGCPercent)
	}
	os.Exit(run(os.Args[1:]))
}

// defaultGCPercent is the collector's target when GOGC does not say, for a large
// live heap. Most of a warm filter's heap is long-lived (the rules' automata,
// about 100 MB after a day of mail) and its garbage a few hundred KB a message,
// so at Go's 100 the heap doubled between cycles for little: at 50 the corpus
// run's peak RSS fell by about 50 MB, for 2-4 % more CPU a message
// (docs/benchmarks.md, "Seventeenth session"). GOGC and GOMEMLIMIT in the
// environment still decide.
const defaultGCPercent = 50

// heapBudget is the heap the collector may let grow to before a cycle, when
// neither GOGC nor GOMEMLIMIT says (gctune): while the live heap is small, a
// target of defaultGCPercent ran it twice as often as the budget needs
// (docs/benchmarks.md, "Twenty-third session").
const heapBudget = 112 << 20

func run(args []string) int {
	if len(args) == 0 {
		usage(os.Stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(os.Stdout)
		return 0
	case "-v", "--version":
		return runVersion(nil)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:])
		}
	}
	fmt.Fprintf(os.Stderr, "postern: unknown command %q\n\n", args[0])
	usage(os.Stderr)
	return 2
}

// common holds the flags every subcommand takes.
type common struct {
	configPath string
	dataDir    string
}

// newFlags makes a subcommand's flag set with the common flags and a usage text.
func newFlags(name, synopsis, help string) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet("postern "+name, flag.ContinueOnError)
	c := &common{}
	fs.StringVar(&c.configPath, "config", config.DefaultPath, "configuration `file`")
	fs.StringVar(&c.configPath, "c", config.DefaultPath, "configuration `file` (short for --config)")
	fs.StringVar(&c.dataDir, "data-dir", "", "`directory` for every database file (overrides data_dir)")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: postern %s\n\n%s\n\nOptions:\n", synopsis, strings.TrimSpace(help))
		fs.PrintDefaults()
	}
	return fs, c
}

// parse parses flags, which may come before, between or after the arguments
// ("postern config test -c FILE"); "--" ends the flags. It returns an exit code when
// the command should stop. The arguments are left in positional.
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0, true
			}
			return 2, true
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Leave the arguments where fs.Args finds them.
	_ = fs.Parse(append([]string{"--"}, positional...))
	return 0, false
}

// load reads the configuration the flags name; the default path may be absent.
func (c *common) load(fs *flag.FlagSet) (config.Config, error) {
	explicit := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "c" || f.Name == "config" {
			explicit = true
		}
	})
	cfg, err := config.Load(c.configPath, !explicit)
	if err != nil {
		return cfg, err
	}
	if c.dataDir != "" {
		cfg.DataDir = c.dataDir
	}
	return cfg, nil
}

func newLogger(cfg config.Config) *logrus.Logger {
	log := logrus.New()
	log.SetOutput(os.Stderr)
	setLogging(log, cfg)
	return log
}

// setLogging applies log_level and log_format (at start, and on SIGHUP: an
// operator turns debug on for a while without a restart).
func setLogging(log *logrus.Logger, cfg config.Config) {
	if lvl, err := logrus.ParseLevel(cfg.LogLevel); err == nil {
		log.SetLevel(lvl)
	}
	if cfg.LogFormat == "json" {
		log.SetFormatter(&logrus.JSONFormatter{})
	} else {
		log.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	}
}

// components are what serve and check build from the configuration.
type components struct {
	Rules *rules.Check
	// Automata is the rules' DFA cache in data_dir (automata.go).
	Automata *automata
	Clamd    *clamav.Client // nil: virus scanning off
	Bayes    *score.Bayes   // nil: Bayes off
	// Resolver is the one DNS client of every check, envelope and content, so
	// they share its cache (nil: no [dns] resolver, no DNS at all).
	Resolver *resolver.Resolver
	// Class names the content settings a recipient's mail is judged by
	// (policy.Policy.Class): its [recipients] entry, and whether it takes banned
	// attachments, both read from the pipeline in use (current).
	Class func(rcpt string) string
	// current is the pipeline in use: build's, until Reload builds another.
	// Class reads it, so that recipients are told apart at RCPT TO by the same
	// [recipients] and exempt_rcpts that judge their message at end of data.
	current atomic.Pointer[filter.Pipeline]
	closers []func()
}

// Close releases what build opened, last first.
func (c *components) Close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
}

// build wires the configured checks into the filter pipeline. For serve (learn is
// true) the Bayes store is opened for writing and autolearning is on as configured;
// check opens it only to read, and learns nothing (the rules' DFA cache is the one
// file it may write: automata.go).
func build(cfg config.Config, learn bool, log logrus.FieldLogger) (*components, error) {
	c := &components{}
	set, problems, err := loadRules(cfg.RulesPaths)
	if err != nil {
		return nil, err
	}
	log.WithFields(logrus.Fields{
		"rules": set.Len(), "running": set.Running(), "skipped": len(problems), "files": len(set.Files),
		"paths": rules.Describe(cfg.RulesPaths),
	}).Info("rules loaded (postern rules lint lists the files and what was skipped)")
	c.Automata = newAutomata(cfg.DataDir, log)
	c.Automata.load(set)
	c.Rules = rules.NewCheck(set)
	if cfg.Clamd.Address != "" {
		conc := cfg.Clamd.MaxConnections
		if conc == 0 {
			conc = 2 * runtime.NumCPU()
		}
		clamd, err := clamav.New(cfg.Clamd.Address, conc)
		if err != nil {
			return nil, err
		}
		clamd.MaxStream = int64(cfg.Clamd.StreamMaxLength)
		c.Clamd = clamd
		c.closers = append(c.closers, clamd.Close) // (its idle sessions)
	}
	if cfg.DNS.Resolver != "" {
		r, err := resolver.New(cfg.DNS.Resolver, resolver.Options{Timeout: cfg.DNS.Timeout.D(), CacheSize: cfg.DNS.CacheSize})
		if err != nil {
			c.Close()
			return nil, err
		}
		c.Resolver = r
	}
	if cfg.Auth.Enabled && c.Resolver != nil { // (auth.enabled waits for a restart)
		// The rules' SPF, DKIM, ARC and DMARC evals ask the auth check in use,
		// which keeps one verification a message, whoever asks first.
		c.Rules.Signatures, c.Rules.Auth = ruleSignatures(c.authCheck), ruleAuth(c.authCheck)
	}
	var learner filter.Learner
	if cfg.Bayes.Enabled {
		b, err := openBayes(cfg, !learn)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.Bayes = b
		if b.Store != nil {
			c.closers = append(c.closers, func() { b.Store.Close() })
		}
		if learn && cfg.Bayes.Autolearn {
			al := score.NewAutolearner(b, log)
			c.closers = append(c.closers, al.Close)
			learner = al
		}
	}
	p, err := c.pipeline(cfg, learner)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.current.Store(p)
	c.Class = func(rcpt string) string {
		p := c.Current()
		class := ""
		if s := p.Recipients.Lookup(rcpt); s != nil {
			class = "recipients " + s.Key
		}
		if ban := findCheck[*banned.Check](p.Checks); ban != nil && ban.Exempt(rcpt) {
			class += " takes-banned"
		}
		return strings.TrimSpace(class)
	}
	return c, nil
}

// pipeline is cfg's content checks (checks) and verdict settings
// (verdictPolicy), with learner, build's autolearner, which a SIGHUP keeps.
func (c *components) pipeline(cfg config.Config, learner filter.Learner) (*filter.Pipeline, error) {
	rcpts, err := recipients.New(cfg.RecipientSettings())
	if err != nil {
		return nil, err
	}
	checks, err := c.checks(cfg)
	if err != nil {
		return nil, err
	}
	return &filter.Pipeline{Checks: checks, Policy: verdictPolicy(cfg, rcpts, learner)}, nil
}

// checks are the content checks cfg configures, around what build opened once
// (the rules check, clamd's client, the resolver, the Bayes store): each is a
// value holding settings only, so SIGHUP (Reload) builds them anew. The order
// is the verdict's: a virus is named before a banned file, a banned file
// before what the checks after it refuse (DMARC).
func (c *components) checks(cfg config.Config) ([]filter.Check, error) {
	checks := []filter.Check{c.Rules}
	if c.Clamd != nil {
		checks = append(checks, &clamav.Check{
			Clamd:          c.Clamd,
			WholeMessage:   cfg.Clamd.ScanWholeMessage,
			MaxStream:      c.Clamd.MaxStream,
			Timeout:        cfg.Clamd.Timeout.D(),
			AcceptOnError:  cfg.Clamd.OnScanError == "accept",
			AcceptTooLarge: cfg.Clamd.OnTooLarge == "accept",
		})
	}
	if a := cfg.Attachments; a.Enabled {
		types := make([]string, len(a.Types))
		for i, t := range a.Types {
			types[i] = strings.ToLower(t)
		}
		exempt, err := recipients.NewSet(a.ExemptRcpts)
		if err != nil {
			return nil, fmt.Errorf("attachments.exempt_rcpts: %w", err)
		}
		checks = append(checks, &banned.Check{Extensions: a.Extensions, Types: types,
			Executables: a.Executables, InsideArchives: a.InsideArchives, ActiveSVG: a.ActiveSVG, ExemptRcpts: exempt,
			Reply: cfg.Replies.Banned})
	}
	if cfg.Auth.Enabled && c.Resolver != nil {
		checks = append(checks, &auth.Check{
			Resolver: resolver.NetStyle{R: c.Resolver}, AuthservID: authservID(cfg),
			MaxSignatures: cfg.Auth.MaxSignatures, DMARCReject: cfg.Auth.DMARCReject,
			TrustedSealers: cfg.Auth.TrustedARCSealers,
			Score:          func(name string) (float64, bool) { return c.Rules.Set().OperatorScore(name) },
		})
	}
	if len(cfg.URIBL.Zones)+len(cfg.URIBL.IPZones)+len(cfg.URIBL.NSZones) > 0 && c.Resolver != nil {
		u := &uribl.Check{Resolver: c.Resolver, MaxDomains: cfg.URIBL.MaxDomains,
			// The set in use, also after a reload: the links its uri rules read.
			URIs: func(m *filter.Message) []string { return c.Rules.Set().MessageURIs(m) },
			Skip: func(name string) bool { return c.Rules.Set().SkipsURIDomain(name) }}
		for _, l := range []struct {
			zones []string
			asks  uribl.Asks
		}{{cfg.URIBL.Zones, uribl.LinkDomains}, {cfg.URIBL.IPZones, uribl.HostAddresses}, {cfg.URIBL.NSZones, uribl.NameServerAddresses}} {
			for _, z := range l.zones {
				zone, err := uriblZone(z, l.asks, cfg.URIBL)
				if err != nil {
					return nil, err
				}
				u.Zones = append(u.Zones, zone)
			}
		}
		checks = append(checks, u)
	}
	if c.Bayes != nil {
		checks = append(checks, &score.Check{
			Bayes:  c.Bayes,
			Points: score.Points{PerLogOdds: cfg.Bayes.PerLogOdds, Min: cfg.Bayes.MinPoints, Max: cfg.Bayes.MaxPoints},
			// The set in use, also after a reload: an operator's score line wins.
			Score: func(name string) (float64, bool) { return c.Rules.Set().OperatorScore(name) },
		})
	}
	return checks, nil
}

// findCheck is the check of type T among checks (the zero T when there is none).
func findCheck[T filter.Check](checks []filter.Check) T {
	for _, ch := range checks {
		if t, ok := ch.(T); ok {
			return t
		}
	}
	var zero T
	return zero
}

// Current is the pipeline in use: build's, until Reload builds another.
func (c *components) Current() *filter.Pipeline { return c.current.Load() }

// authCheck is the auth check of the pipeline in use, nil when sender
// authentication is off.
func (c *components) authCheck() *auth.Check {
	return findCheck[*auth.Check](c.Current().Checks)
}

// verdictPolicy is the pipeline's policy from the configuration: the settings
// that turn the checks' results into a verdict, and what is done with a refused
// message, which SIGHUP reloads (Reload).
func verdictPolicy(cfg config.Config, rcpts *recipients.Table, learner filter.Learner) filter.Policy {
	return filter.Policy{
		RequiredScore:  cfg.RequiredScore,
		RejectScore:    cfg.RejectScore,
		OnErrorAccept:  cfg.OnError == "accept",
		Timeout:        cfg.CheckTimeout.D(),
		ScanLimit:      int64(cfg.Limits.ScanLimit),
		AcceptTooLarge: cfg.Limits.OnTooLarge == "accept",
		ReportHeader:   cfg.ReportHeader,
		SubjectTag:     cfg.SubjectTag,
		Recipients:     rcpts,
		Version:        "postern-" + Version,
		Replies: filter.ReplyTexts{
			Spam: cfg.Replies.Spam, Virus: cfg.Replies.Virus,
			TempFail: cfg.Replies.TempFail, TooLarge: cfg.Replies.TooLarge,
		},
		KeepSpam:      cfg.Quarantine.Spam,
		KeepMalware:   cfg.Quarantine.Virus,
		Learner:       learner,
		AutolearnSpam: cfg.Bayes.AutolearnSpam,
		AutolearnHam:  cfg.Bayes.AutolearnHam,
		AutolearnVeto: cfg.Bayes.AutolearnVeto,
	}
}

// Reload builds the content checks anew from cfg (checks: the same rules
// check, clamd client, resolver and Bayes store under new settings) and the
// verdict's settings (verdictPolicy), sets the classifier's parameters
// (bayes.min_spam, min_ham, learn_margin), and makes that pipeline the one in use
// (Current): the milter's end of data and Class, the recipient split, read it
// from now on. cfg is what serve may apply without a restart
// (config.Reloaded).
func (c *components) Reload(cfg config.Config) (*filter.Pipeline, error) {
	p, err := c.pipeline(cfg, c.Current().Learner)
	if err != nil {
		return nil, err
	}
	if c.Bayes != nil {
		c.Bayes.SetParams(bayesParams(cfg)) // bayes.trigrams, which the model holds, is restart-only
	}
	c.current.Store(p)
	return p, nil
}

// ruleAuth and ruleSignatures give the rules' SPF, DKIM, ARC and DMARC evals
// and DKIM welcome lists the auth check's verification of a message: all of
// it, or the DKIM signatures alone. A message that cannot be read has none
// here: the auth check reports that error, and the pipeline tempfails.
func ruleAuth(ac func() *auth.Check) func(context.Context, *filter.Message) *rules.Authentication {
	return func(ctx context.Context, m *filter.Message) *rules.Authentication {
		a := ac()
		if a == nil {
			return nil
		}
		res, err := a.Results(ctx, m)
		if err != nil {
			return nil
		}
		return authentication(res)
	}
}

func ruleSignatures(ac func() *auth.Check) func(context.Context, *filter.Message) []rules.DKIMSignature {
	return func(ctx context.Context, m *filter.Message) []rules.DKIMSignature {
		a := ac()
		if a == nil {
			return nil
		}
		sigs, err := a.Signatures(ctx, m)
		if err != nil {
			return nil
		}
		return dkimSignatures(sigs)
	}
}

// authentication is what the auth check found, as the rules read it: the
// DMARC results its own pseudo-rules score, none when no single From: domain
// was evaluated or a trusted ARC sealer vouches for the failure.
func authentication(res auth.Results) *rules.Authentication {
	a := &rules.Authentication{ARC: res.ARC.Result}
	if d := res.DMARC; d.Domain != "" && d.Override == "" {
		a.DMARC, a.DMARCPolicy = d.Result, d.Policy
	}
	return a
}

func dkimSignatures(sigs []auth.DKIMResult) []rules.DKIMSignature {
	out := make([]rules.DKIMSignature, len(sigs))
	for i, s := range sigs {
		out[i] = rules.DKIMSignature{Valid: s.Result == "pass", Domain: s.SigningDomain()}
	}
	return out
}

// authservID is auth.authserv_id, or the host name.
func authservID(cfg config.Config) string {
	if cfg.Auth.AuthservID != "" {
		return cfg.Auth.AuthservID
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "postern"
}

// loadRules loads the rule files; errors (not warnings) fail the whole set, each
// error with file:line in the returned error. The problems include the warnings.
func loadRules(paths []string) (*rules.Set, []rules.Problem, error) {
	set, problems := rules.Load(paths...)
	errs := rules.Errors(problems)
	if len(errs) > 0 {
		lines := make([]string, len(errs))
		for i, p := range errs {
			lines[i] = p.String()
		}
		return nil, problems, fmt.Errorf("rules: %d error(s):\n%s", len(errs), strings.Join(lines, "\n"))
	}
	return set, problems, nil
}

func bayesParams(cfg config.Config) score.Params {
	p := score.DefaultParams()
	if cfg.Bayes.Trigrams {
		p = p.WithTrigrams()
	}
	p.MinSpam, p.MinHam = cfg.Bayes.MinSpam, cfg.Bayes.MinHam
	p.LearnMargin = cfg.Bayes.LearnMargin
	return p
}

// ensureDataDir creates data_dir for the commands that write to it. Not only serve:
// an operator commonly trains Bayes (postern learn, bayes import) before the daemon
// has ever run.
func ensureDataDir(cfg config.Config) error {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data_dir: %w (set --data-dir to a writable directory)", err)
	}
	return nil
}

// openBayes loads the classifier from data_dir. Read-only (check) and with no
// database yet, it is an empty model in cold start, and nothing is created.
func openBayes(cfg config.Config, readOnly bool) (*score.Bayes, error) {
	if !storeExists(cfg, score.FileName) && readOnly {
		return score.NewBayes(nil, score.NewModel(), bayesParams(cfg)), nil
	}
	store, err := openBayesStore(cfg)
	if err != nil {
		return nil, err
	}
	b, err := score.Open(context.Background(), store, bayesParams(cfg))
	if err != nil {
		store.Close()
		return nil, err
	}
	return b, nil
}

func runVersion(args []string) int {
	if args != nil {
		fs, _ := newFlags("version", "version", "Prints Postern's version.")
		if code, stop := parse(fs, args); stop {
			return code
		}
	}
	fmt.Printf("postern %s (%s %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}

func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "postern: "+format+"\n", args...)
	return 1
}
