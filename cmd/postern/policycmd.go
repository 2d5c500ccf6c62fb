package main

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/postern/postern/policy"
)

func runGreylist(args []string) int {
	fs, c := newFlags("greylist", "greylist list [TEXT] | add IP SENDER RCPT | allow IP | delete KEY", `
list [TEXT]          prints the greylisting records whose key contains TEXT (all when
                     none), newest first: triplets (network/sender/recipient) with
                     their first and latest attempt and whether they passed, and
                     clients that passed often enough to be auto-allowed.
add IP SENDER RCPT   records the triplet as passed: its next attempt is accepted.
allow IP             auto-allows a client address, as if it had passed
                     greylist.auto_allow_after times.
delete KEY           deletes a triplet (its key as listed) or a client record: the
                     next attempt is greylisted again.
The database is data_dir/greylist.db; serve may be running.`)
	limit := fs.Int("limit", 100, "list: at most `N` records (0: all)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	cfg, err := c.load(fs)
	if err != nil {
		return fail("%v", err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	s, err := openGreyStore(cfg)
	if err != nil {
		return fail("%v", err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gc := greyConfig(cfg)
	a := fs.Args()[1:]
	switch fs.Arg(0) {
	case "list":
		entries, err := s.List(ctx, strings.Join(a, " "), *limit)
		if err != nil {
			return fail("%v", err)
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "KEY\tSTATE\tFIRST\tLAST")
		for _, e := range entries {
			state := "waiting"
			switch {
			case e.Client && e.Count >= gc.AutoAllowAfter && gc.AutoAllowAfter > 0:
				state = fmt.Sprintf("auto-allowed (%d passes)", e.Count)
			case e.Client:
				state = fmt.Sprintf("client (%d passes)", e.Count)
			case e.Last.Sub(e.First) >= gc.Delay:
				state = "passed"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Key, state, e.First.Format(time.DateTime), e.Last.Format(time.DateTime))
		}
		w.Flush()
		tr, cl, err := s.Count(ctx)
		if err == nil {
			fmt.Printf("%d triplets, %d clients stored\n", tr, cl)
		}
		return 0
	case "add":
		if len(a) != 3 {
			return fail("greylist add: want IP SENDER RCPT")
		}
		ip, err := netip.ParseAddr(a[0])
		if err != nil {
			return fail("greylist add: %v", err)
		}
		key := policy.TripletKey(ip, a[1], a[2], gc.IPv4Prefix, gc.IPv6Prefix)
		now := time.Now()
		if err := s.PutTriplet(ctx, key, policy.Triplet{First: now.Add(-gc.Delay), Last: now}); err != nil {
			return fail("greylist add: %v", err)
		}
		fmt.Printf("%s: passed\n", key)
		return 0
	case "allow":
		if len(a) != 1 {
			return fail("greylist allow: want IP")
		}
		ip, err := netip.ParseAddr(a[0])
		if err != nil {
			return fail("greylist allow: %v", err)
		}
		n := max(gc.AutoAllowAfter, 1)
		if err := s.PutClient(ctx, ip.Unmap().String(), policy.AutoAllow{Count: n, Last: time.Now()}); err != nil {
			return fail("greylist allow: %v", err)
		}
		if gc.AutoAllowAfter == 0 {
			fmt.Printf("%s recorded, but greylist.auto_allow_after = 0: no client is auto-allowed; use an allow list\n", ip)
			return 0
		}
		fmt.Printf("%s: auto-allowed\n", ip)
		return 0
	case "delete":
		if len(a) != 1 {
			return fail("greylist delete: want KEY (as greylist list prints it)")
		}
		ok, err := s.Delete(ctx, a[0])
		if err != nil {
			return fail("%v", err)
		}
		if !ok {
			return fail("greylist delete: no record %q", a[0])
		}
		fmt.Printf("%s: deleted\n", a[0])
		return 0
	}
	fs.Usage()
	return 2
}

func runLists(args []string) int {
	fs, c := newFlags("lists", "lists show | lint | add LIST ENTRY | delete LIST ENTRY", `
show                 prints every entry of the allow, deny and greylisting allow lists
                     with its file:line.
lint                 reads the lists as serve does and prints every error with
                     file:line; exit status 1 when there is one.
add LIST ENTRY       appends ENTRY (e.g. "client 192.0.2.0/24", "from news@example.com")
                     to the first file of LIST: allow (policy.allow_lists), deny
                     (policy.deny_lists) or greylist (greylist.allow_lists), creating
                     the file if need be; an entry that does not parse is refused.
delete LIST ENTRY    removes the lines equal to ENTRY from LIST's files.
After add or delete, 'postern rules reload' (or SIGHUP) makes serve read the lists.`)
	if code, stop := parse(fs, args); stop {
		return code
	}
	cfg, err := c.load(fs)
	if err != nil {
		return fail("%v", err)
	}
	files := map[string][]string{"allow": cfg.Policy.AllowLists, "deny": cfg.Policy.DenyLists, "greylist": cfg.Greylist.AllowLists}
	keys := map[string]string{"allow": "policy.allow_lists", "deny": "policy.deny_lists", "greylist": "greylist.allow_lists"}
	switch fs.Arg(0) {
	case "show", "lint":
		bad := false
		for _, name := range []string{"allow", "deny", "greylist"} {
			l, err := policy.LoadLists(files[name])
			if err != nil {
				bad = true
				fmt.Fprintf(os.Stderr, "%s: %v\n", keys[name], err)
				continue
			}
			fmt.Printf("%s (%s): %d entries from %s\n", name, keys[name], l.Len(), strings.Join(files[name], ", "))
			if fs.Arg(0) == "show" {
				printListFiles(files[name])
			}
		}
		if bad {
			return 1
		}
		return 0
	case "add", "delete":
		if fs.NArg() < 3 || keys[fs.Arg(1)] == "" {
			return fail("lists %s: want allow|deny|greylist ENTRY", fs.Arg(0))
		}
		name, entry := fs.Arg(1), strings.Join(fs.Args()[2:], " ")
		if len(files[name]) == 0 {
			return fail("lists %s: no file in %s: add one to the configuration first", fs.Arg(0), keys[name])
		}
		if fs.Arg(0) == "add" {
			return listAdd(files[name][0], entry)
		}
		return listDelete(files[name], entry)
	}
	fs.Usage()
	return 2
}

func printListFiles(paths []string) {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = strings.TrimSpace(line[:i])
			}
			if line != "" {
				fmt.Printf("  %s:%d: %s\n", p, n, line)
			}
		}
		f.Close()
	}
}

func listAdd(path, entry string) int {
	if _, err := policy.ParseList("ENTRY", strings.NewReader(entry)); err != nil {
		return fail("%v", err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fail("%v", err)
	}
	_, err = fmt.Fprintf(f, "%s\n", entry)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail("%v", err)
	}
	fmt.Printf("added to %s: %s\n", path, entry)
	return 0
}

func listDelete(paths []string, entry string) int {
	want := strings.Join(strings.Fields(entry), " ")
	removed := 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		lines := strings.SplitAfter(string(data), "\n")
		var keep []string
		for _, l := range lines {
			body := l
			if i := strings.IndexByte(body, '#'); i >= 0 {
				body = body[:i]
			}
			if strings.Join(strings.Fields(body), " ") == want {
				removed++
				continue
			}
			keep = append(keep, l)
		}
		if len(keep) != len(lines) {
			if err := writeFileAtomic(p, []byte(strings.Join(keep, ""))); err != nil {
				return fail("%v", err)
			}
			fmt.Printf("removed from %s: %s\n", p, want)
		}
	}
	if removed == 0 {
		return fail("lists delete: no line %q", want)
	}
	return 0
}
