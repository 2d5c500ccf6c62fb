// Command urilistdiff compares, message by message, the links Postern's uri rules
// read (the stock rules' Set.URIs, with their redirector_pattern targets: what
// `postern check --uris` prints but the DKIM signing domains) with SpamAssassin's own
// list for the same message (PerMsgStatus::get_uri_list, through its Perl API in
// one process), and reports how many lists are the same. docs/rules.md
// ("Agreement with SpamAssassin") has the numbers and the commands.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/internal/mbox"
	"github.com/postern/postern/rules"
	"github.com/postern/postern/scan"
)

// saURIs prints "file\turi" for every link of each file named on its input.
const saURIs = `
use strict; use Mail::SpamAssassin;
my $sa = Mail::SpamAssassin->new({dont_copy_prefs => 1, local_tests_only => 1,
  userprefs_filename => '/dev/null'});
$sa->init(1);
while (my $f = <STDIN>) {
  chomp $f;
  open(my $fh, '<', $f) or next; local $/; my $raw = <$fh>; close $fh;
  my $msg = $sa->parse($raw); my $pms = $sa->check($msg);
  print "$f\t$_\n" for grep { $_ ne '' } $pms->get_uri_list();
  $pms->finish; $msg->finish;
}
`

func main() {
	dir := flag.String("corpus", corpus.Dir(), "corpus directory")
	every := flag.Int("every", 21, "take every Nth message (sorted by path)")
	html := flag.Bool("html", false, "only messages that hold text/html")
	show := flag.Int("show", 0, "print the differences of the first N messages that differ")
	flag.Parse()

	var files []string
	filepath.WalkDir(*dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	var picked []string
	for _, f := range files {
		if *html {
			b, err := os.ReadFile(f)
			if err != nil || !bytes.Contains(bytes.ToLower(b), []byte("text/html")) {
				continue
			}
		}
		picked = append(picked, f)
	}
	var sample []string
	for i := *every - 1; i < len(picked); i += *every {
		sample = append(sample, picked[i])
	}
	if len(sample) == 0 {
		fmt.Fprintln(os.Stderr, "urilistdiff: no messages (run ../shared/corpus/get-corpus.sh)")
		os.Exit(1)
	}

	theirs, err := spamAssassinLists(sample)
	if err != nil {
		fmt.Fprintln(os.Stderr, "urilistdiff:", err)
		os.Exit(1)
	}
	// SpamAssassin's list holds the targets its redirector_pattern lines find;
	// ours, those of the same lines in the stock rules.
	set, _ := rules.Load(rules.StockPath)
	same, shown := 0, 0
	for _, f := range sample {
		raw, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "urilistdiff:", err)
			os.Exit(1)
		}
		m, err := scan.Parse(bytes.NewReader(mbox.StripFrom(raw)))
		if err != nil {
			fmt.Fprintf(os.Stderr, "urilistdiff: %s: %v\n", f, err)
			continue
		}
		// (Without the DKIM signing domains: get_uri_list, like the uri
		// rules, reads only the cleaned links, and those are "noclean".)
		ours := slices.DeleteFunc(slices.Clone(set.URIs(m)), func(u string) bool {
			return strings.HasPrefix(u, rules.SigningDomainPrefix)
		})
		slices.Sort(ours)
		ours = slices.Compact(ours)
		want := theirs[f]
		slices.Sort(want)
		if slices.Equal(ours, slices.Compact(want)) {
			same++
			continue
		}
		if shown < *show {
			shown++
			fmt.Println(f)
			for _, u := range ours {
				if !slices.Contains(want, u) {
					fmt.Printf("  postern only:      %.160s\n", u)
				}
			}
			for _, u := range want {
				if !slices.Contains(ours, u) {
					fmt.Printf("  spamassassin only: %.160s\n", u)
				}
			}
		}
	}
	fmt.Printf("%d of %d messages: the same list of links as spamassassin's get_uri_list\n", same, len(sample))
}

// spamAssassinLists runs SpamAssassin once over the files and reads each one's
// list back.
func spamAssassinLists(files []string) (map[string][]string, error) {
	cmd := exec.Command("perl", "-e", saURIs)
	cmd.Stdin = strings.NewReader(strings.Join(files, "\n") + "\n")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("perl (Mail::SpamAssassin): %v", err)
	}
	lists := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if f, u, ok := strings.Cut(sc.Text(), "\t"); ok {
			lists[f] = append(lists[f], u)
		}
	}
	return lists, sc.Err()
}
