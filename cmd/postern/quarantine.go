package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/postern/postern/config"
	"github.com/postern/postern/quarantine"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/score"
)

const quarantineHelp = `
The quarantine holds a copy of every message Postern rejected or held. A sender
who got "550 5.7.1 … (ref ID)" can quote ID; the postmaster finds it, reads it and
releases it to its recipients.

  list     [--since 24h] [--reason spam|virus|banned|dmarc] [--rcpt ADDR] [--from TEXT]
           [--subject TEXT] [--status held|released|deleted] [--limit N] [--json]
  show     ID [--raw|--headers|--report]
  release  ID... [--to ADDR] [--force] [--learn-ham]   re-inject to [quarantine] release_relay
  learn    ID... --spam|--ham              teach the Bayes filter with kept messages
  delete   ID...
  purge    --older-than 30d
  stats    [--json]

The database is data_dir/quarantine.db; these commands work while serve runs.`

func runQuarantine(args []string) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs, _ := newFlags("quarantine", "quarantine list|show|release|delete|purge|stats [options]", quarantineHelp)
		if code, stop := parse(fs, args); stop {
			return code
		}
		fs.Usage()
		return 2
	}
	sub, args := args[0], args[1:]
	cmds := map[string]func([]string) int{
		"list": qList, "show": qShow, "release": qRelease, "delete": qDelete, "purge": qPurge, "stats": qStats,
		"learn": qLearn,
	}
	f, ok := cmds[sub]
	if !ok {
		return fail("quarantine: unknown command %q (list, show, release, delete, purge, stats)", sub)
	}
	return f(args)
}

// openQuarantine loads the configuration and opens the store; a missing database is an
// error rather than an empty new one, which would hide a wrong --data-dir.
func openQuarantine(fs *flag.FlagSet, c *common) (quarantineStore, config.Config, error) {
	cfg, err := c.load(fs)
	if err != nil {
		return nil, cfg, err
	}
	if !storeExists(cfg, quarantine.FileName) {
		return nil, cfg, fmt.Errorf("no quarantine at %s (is data_dir right? serve creates it)", storeAt(cfg, quarantine.FileName))
	}
	s, err := openQuarantineStore(cfg)
	return s, cfg, err
}

// who names the operator for the record's history.
func who() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if su := os.Getenv("SUDO_USER"); su != "" {
		name = su + " (via sudo)"
	}
	return name
}

func qList(args []string) int {
	fs, c := newFlags("quarantine list", "quarantine list [options]", "Lists quarantined messages, newest first.")
	since := fs.String("since", "", "only records newer than this `age` (e.g. 24h, 7d)")
	var f quarantine.Filter
	fs.StringVar(&f.Reason, "reason", "", "only this `reason`: spam, virus, banned or dmarc")
	fs.StringVar(&f.Rcpt, "rcpt", "", "only messages to this envelope recipient `ADDR`")
	fs.StringVar(&f.From, "from", "", "envelope sender or From header contains `TEXT`")
	fs.StringVar(&f.Subject, "subject", "", "subject contains `TEXT`")
	fs.StringVar(&f.Status, "status", "", "only this `status`: held, released or deleted")
	fs.IntVar(&f.Limit, "limit", 100, "at most `N` records (0: all)")
	asJSON := fs.Bool("json", false, "one JSON object per record per line")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if *since != "" {
		d, err := config.ParseDuration(*since)
		if err != nil {
			return fail("--since: %v", err)
		}
		f.Since = time.Now().Add(-d)
	}
	s, _, err := openQuarantine(fs, c)
	if err != nil {
		return fail("%v", err)
	}
	defer s.Close()
	ctx, cancel := dbContext()
	defer cancel()
	rs, err := s.List(ctx, f)
	if err != nil {
		return fail("%v", err)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		for _, r := range rs {
			enc.Encode(r)
		}
		return 0
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tID\tSCORE\tREASON\tSTATUS\tFROM\tRCPT\tSUBJECT")
	for _, r := range rs {
		rcpt := ""
		if len(r.Rcpts) > 0 {
			rcpt = r.Rcpts[0]
			if len(r.Rcpts) > 1 {
				rcpt += fmt.Sprintf(" (+%d)", len(r.Rcpts)-1)
			}
		}
		reason := r.Reason
		if r.Virus != "" {
			reason += ":" + r.Virus
		} else if name := quotedName(r.Detail); name != "" {
			reason += ":" + clip(name, 40) // the banned file (its detail starts with its quoted name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\t%s\t%s\t%s\t%s\n", r.Time.Local().Format("2006-01-02 15:04:05"), r.ID, r.Score,
			reason, r.Status, clip(orDash(r.MailFrom), 40), clip(rcpt, 40), clip(r.Subject, 60))
	}
	tw.Flush()
	return 0
}

// quotedName is the Go-quoted string a detail starts with (a banned file's
// name: banned.Finding), or "".
func quotedName(detail string) string {
	q, err := strconv.QuotedPrefix(detail)
	if err != nil {
		return ""
	}
	name, err := strconv.Unquote(q)
	if err != nil {
		return ""
	}
	return name
}

func orDash(s string) string {
	if s == "" {
		return "<>"
	}
	return s
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func qShow(args []string) int {
	fs, c := newFlags("quarantine show", "quarantine show ID [--raw|--headers|--report]", "Shows one quarantined message.")
	raw := fs.Bool("raw", false, "print the message byte for byte as received")
	headers := fs.Bool("headers", false, "print only the message's header")
	report := fs.Bool("report", false, "print only why it was quarantined")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		return fail("quarantine show: want one ID")
	}
	s, _, err := openQuarantine(fs, c)
	if err != nil {
		return fail("%v", err)
	}
	defer s.Close()
	ctx, cancel := dbContext()
	defer cancel()
	id := fs.Arg(0)
	r, err := s.Get(ctx, id)
	if err != nil {
		return fail("%v", err)
	}
	if *report {
		printReport(r)
		return 0
	}
	body, err := s.Raw(ctx, id)
	if err != nil && (*raw || *headers) {
		return fail("%v", err)
	}
	switch {
	case *raw:
		os.Stdout.Write(body)
	case *headers:
		os.Stdout.Write(headerBlock(body))
	default:
		printReport(r)
		fmt.Println()
		if err != nil {
			fmt.Printf("(%v)\n", err)
		} else {
			os.Stdout.Write(headerBlock(body))
		}
	}
	return 0
}

func printReport(r *quarantine.Record) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("ID", r.ID)
	row("Time", r.Time.Local().Format(time.RFC1123Z))
	row("Reason", r.Reason)
	if r.Virus != "" {
		row("Virus", r.Virus)
	}
	if r.Detail != "" {
		row("Found", r.Detail)
	}
	row("Score", fmt.Sprintf("%.1f", r.Score))
	row("Tests", strings.Join(r.Tests, ","))
	row("Action", r.Action)
	status := r.Status
	if r.StatusBy != "" {
		status += fmt.Sprintf(" by %s at %s", r.StatusBy, r.StatusAt.Local().Format(time.RFC1123Z))
	}
	row("Status", status)
	row("Client", fmt.Sprintf("%s [%s] helo=%s", r.ClientName, r.ClientAddr, r.Helo))
	row("Queue ID", r.QueueID)
	row("Envelope from", orDash(r.MailFrom))
	row("Envelope to", strings.Join(r.Rcpts, ", "))
	row("From", r.From)
	row("Subject", r.Subject)
	row("Message-ID", r.MessageID)
	row("Size", fmt.Sprintf("%d bytes", r.Size))
	tw.Flush()
}

// headerBlock returns the header of a raw message, up to and including the blank line.
func headerBlock(raw []byte) []byte {
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := bytes.Index(raw, []byte(sep)); i >= 0 {
			return raw[:i+len(sep)]
		}
	}
	return raw
}

func qRelease(args []string) int {
	fs, c := newFlags("quarantine release", "quarantine release ID... [--to ADDR] [--force]", `
Re-injects messages over SMTP to [quarantine] release_relay with their original
envelope sender and recipients (or --to), adding an X-Postern-Released header.
A record becomes "released" only when the relay answered 250; releasing a message
twice needs --force.`)
	to := fs.String("to", "", "deliver to this `ADDR` instead of the original recipients")
	force := fs.Bool("force", false, "release even if released before")
	learnHam := fs.Bool("learn-ham", false, "also teach the Bayes filter that these messages are ham")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() == 0 {
		return fail("quarantine release: want at least one ID")
	}
	s, cfg, err := openQuarantine(fs, c)
	if err != nil {
		return fail("%v", err)
	}
	defer s.Close()
	failed := 0
	var released []string
	for _, id := range fs.Args() {
		if err := releaseOne(s, cfg, id, *to, *force); err != nil {
			fmt.Fprintf(os.Stderr, "postern: %v\n", err)
			failed++
			continue
		}
		released = append(released, id)
	}
	if *learnHam && len(released) > 0 {
		if err := learnKept(s, cfg, released, false); err != nil {
			fmt.Fprintf(os.Stderr, "postern: %v\n", err)
			failed++
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func qLearn(args []string) int {
	fs, c := newFlags("quarantine learn", "quarantine learn ID... --spam|--ham", "Teaches the Bayes filter with quarantined messages, as spam or as ham.")
	spam := fs.Bool("spam", false, "learn as spam")
	ham := fs.Bool("ham", false, "learn as ham")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if *spam == *ham || fs.NArg() == 0 {
		return fail("quarantine learn: want ID... and exactly one of --spam and --ham")
	}
	s, cfg, err := openQuarantine(fs, c)
	if err != nil {
		return fail("%v", err)
	}
	defer s.Close()
	if err := learnKept(s, cfg, fs.Args(), *spam); err != nil {
		return fail("%v", err)
	}
	return 0
}

// learnKept teaches the Bayes store with quarantined messages.
func learnKept(s quarantine.Store, cfg config.Config, ids []string, spam bool) error {
	ctx, cancel := dbContext()
	defer cancel()
	store, err := openBayesStore(cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	p := bayesParams(cfg)
	var items []score.Item
	for _, id := range ids {
		raw, err := s.Raw(ctx, id)
		if err != nil {
			return err
		}
		m, err := scan.Parse(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		items = append(items, score.ItemOf(m, spam, p))
	}
	out, err := store.Learn(ctx, items, false)
	if err != nil {
		return err
	}
	class := map[bool]string{true: "spam", false: "ham"}[spam]
	for i, o := range out {
		what := map[score.Outcome]string{score.Learned: "learned as " + class, score.Relearned: "relearned as " + class, score.Known: "already learned as " + class}[o]
		fmt.Printf("%s: %s\n", ids[i], what)
	}
	return nil
}

func releaseOne(s quarantine.Store, cfg config.Config, id, to string, force bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case r.Status == quarantine.StatusDeleted:
		return fmt.Errorf("%s was deleted by %s at %s: nothing to release", id, r.StatusBy, r.StatusAt.Local().Format(time.RFC1123Z))
	case r.Status == quarantine.StatusReleased && !force:
		return fmt.Errorf("%s was already released by %s at %s (use --force to release it again)", id, r.StatusBy, r.StatusAt.Local().Format(time.RFC1123Z))
	}
	raw, err := s.Raw(ctx, id)
	if err != nil {
		return err
	}
	rcpts := r.Rcpts
	if to != "" {
		rcpts = []string{to}
	}
	if err := quarantine.Release(ctx, cfg.Quarantine.ReleaseRelay, r, raw, rcpts, who()); err != nil {
		return err
	}
	if err := s.SetStatus(ctx, id, quarantine.StatusReleased, who()); err != nil {
		return fmt.Errorf("%s was delivered but its status could not be updated: %w", id, err)
	}
	fmt.Printf("released %s to %s via %s\n", id, strings.Join(rcpts, ", "), cfg.Quarantine.ReleaseRelay)
	return nil
}

func qDelete(args []string) int {
	fs, c := newFlags("quarantine delete", "quarantine delete ID...", "Deletes quarantined messages; their records stay, marked deleted, until purged.")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() == 0 {
		return fail("quarantine delete: want at least one ID")
	}
	s, _, err := openQuarantine(fs, c)
	if err != nil {
		return fail("%v", err)
	}
	defer s.Close()
	failed := 0
	for _, id := range fs.Args() {
		ctx, cancel := dbContext()
		err := s.Delete(ctx, id, who())
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "postern: %v\n", err)
			failed++
			continue
		}
		fmt.Printf("deleted %s\n", id)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func qPurge(args []string) int {
	fs, c := newFlags("quarantine purge", "quarantine purge --older-than AGE", "Removes records older than AGE for good (serve does this by itself after [quarantine] retention).")
	older := fs.String("older-than", "", "`AGE`, e.g. 30d or 12h")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if *older == "" {
		return fail("quarantine purge: --older-than is required")
	}
	d, err := config.ParseDuration(*older)
	if err != nil {
		return fail("--older-than: %v", err)
	}
	s, _, err := openQuarantine(fs, c)
	if err != nil {
		return fail("%v", err)
	}
	defer s.Close()
	ctx, cancel := dbContext()
	defer cancel()
	n, err := s.Purge(ctx, time.Now().Add(-d))
	if err != nil {
		return fail("%v", err)
	}
	fmt.Printf("purged %d record(s) older than %s\n", n, *older)
	return 0
}

func qStats(args []string) int {
	fs, c := newFlags("quarantine stats", "quarantine stats [--json]", "Counts records by reason and status, and shows the database's size.")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, stop := parse(fs, args); stop {
		return code
	}
	s, _, err := openQuarantine(fs, c)
	if err != nil {
		return fail("%v", err)
	}
	defer s.Close()
	ctx, cancel := dbContext()
	defer cancel()
	st, err := s.Stats(ctx)
	if err != nil {
		return fail("%v", err)
	}
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(st)
		return 0
	}
	fmt.Printf("records: %d\n", st.Total)
	// The usual reasons always, with 0, then any other a record has.
	reasons := []string{quarantine.ReasonSpam, quarantine.ReasonVirus, quarantine.ReasonBanned}
	for _, k := range slices.Sorted(maps.Keys(st.ByReason)) {
		if !slices.Contains(reasons, k) {
			reasons = append(reasons, k)
		}
	}
	for _, k := range reasons {
		fmt.Printf("  %-8s %d\n", k, st.ByReason[k])
	}
	for _, k := range []string{quarantine.StatusHeld, quarantine.StatusReleased, quarantine.StatusDeleted} {
		fmt.Printf("  %-8s %d\n", k, st.ByStatus[k])
	}
	if !st.Oldest.IsZero() {
		fmt.Printf("oldest: %s\nnewest: %s\n", st.Oldest.Local().Format(time.RFC1123Z), st.Newest.Local().Format(time.RFC1123Z))
	}
	fmt.Printf("database size: %.1f MiB\n", float64(st.SizeBytes)/(1<<20))
	return 0
}
