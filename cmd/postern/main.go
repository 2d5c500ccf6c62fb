// Command postern is the Postern mail filter: the milter daemon and the operator's tools,
// in one binary.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/postern/postern/clamav"
	"github.com/postern/postern/config"
	"github.com/postern/postern/filter"
	"github.com/postern/postern/rules"
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
		{"quarantine", "list, show, release, delete, purge the messages Postern rejected or held", runQuarantine},
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
	os.Exit(run(os.Args[1:]))
}

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
	if lvl, err := logrus.ParseLevel(cfg.LogLevel); err == nil {
		log.SetLevel(lvl)
	}
	if cfg.LogFormat == "json" {
		log.SetFormatter(&logrus.JSONFormatter{})
	} else {
		log.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	}
	return log
}

// newPipeline wires the configured checks into the filter pipeline. clamd is the
// virus scanner when [clamd] address is set (nil otherwise), for serve's health probe.
func newPipeline(cfg config.Config) (*filter.Pipeline, *clamav.Client, error) {
	checks := []filter.Check{rules.Builtin{}}
	var clamd *clamav.Client
	if cfg.Clamd.Address != "" {
		conc := cfg.Clamd.MaxConnections
		if conc == 0 {
			conc = 2 * runtime.NumCPU()
		}
		var err error
		clamd, err = clamav.New(cfg.Clamd.Address, conc)
		if err != nil {
			return nil, nil, err
		}
		clamd.MaxStream = int64(cfg.Clamd.StreamMaxLength)
		checks = append(checks, &clamav.Check{
			Clamd:          clamd,
			WholeMessage:   cfg.Clamd.ScanWholeMessage,
			Timeout:        cfg.Clamd.Timeout.D(),
			AcceptOnError:  cfg.Clamd.OnScanError == "accept",
			AcceptTooLarge: cfg.Clamd.OnTooLarge == "accept",
		})
	}
	return &filter.Pipeline{
		Checks: checks,
		Policy: filter.Policy{
			RequiredScore: cfg.RequiredScore,
			RejectScore:   cfg.RejectScore,
			OnErrorAccept: cfg.OnError == "accept",
			Timeout:       cfg.CheckTimeout.D(),
			ReportHeader:  cfg.ReportHeader,
			Version:       "postern-" + Version,
			Replies: filter.ReplyTexts{
				Spam: cfg.Replies.Spam, Virus: cfg.Replies.Virus,
				TempFail: cfg.Replies.TempFail, TooLarge: cfg.Replies.TooLarge,
			},
		},
	}, clamd, nil
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
