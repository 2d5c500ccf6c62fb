package rules

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// StockPath names, in rules_paths, SpamAssassin's stock rules as this system has
// them (see FindStock). Where there are none it loads nothing, and says so.
const StockPath = "stock"

// Where SpamAssassin keeps its rules: sa-update writes each version's rules under
// saUpdateDir/VERSION/updates_spamassassin_org; Debian's spamassassin package
// installs the release's rules in debianStockDir. Variables, so tests can point
// them elsewhere.
var (
	saUpdateDir    = "/var/lib/spamassassin"
	debianStockDir = "/usr/share/spamassassin"
)

// FindStock returns the stock rule directory SpamAssassin itself would read: the
// newest sa-update directory (its rules are fresher than the package's), else
// Debian's /usr/share/spamassassin; "" when the system has neither.
func FindStock() string {
	entries, _ := os.ReadDir(saUpdateDir)
	type update struct {
		version float64
		dir     string
	}
	var updates []update
	for _, e := range entries {
		v, err := strconv.ParseFloat(e.Name(), 64) // "4.000001": SpamAssassin's numeric version
		if err != nil || !e.IsDir() {
			continue
		}
		dir := filepath.Join(saUpdateDir, e.Name(), "updates_spamassassin_org")
		if hasCF(dir) {
			updates = append(updates, update{v, dir})
		}
	}
	if len(updates) > 0 {
		sort.Slice(updates, func(i, j int) bool { return updates[i].version > updates[j].version })
		return updates[0].dir
	}
	if hasCF(debianStockDir) {
		return debianStockDir
	}
	return ""
}

func hasCF(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".cf") {
			return true
		}
	}
	return false
}

// Describe says what rules_paths stand for, the stock rules resolved: for the
// start-up log and postern rules lint.
func Describe(paths []string) string {
	out := make([]string, len(paths))
	for i, p := range paths {
		switch p {
		case StockPath:
			if dir := FindStock(); dir != "" {
				out[i] = "stock (" + dir + ")"
			} else {
				out[i] = "stock (none on this system: install spamassassin, or run sa-update)"
			}
		case DefaultPath:
			out[i] = "default (built in)"
		default:
			out[i] = p
		}
	}
	return strings.Join(out, ", ")
}
