package main

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/postern/postern/config"
	"github.com/postern/postern/internal/pgdb"
	"github.com/postern/postern/policy"
	"github.com/postern/postern/quarantine"
	"github.com/postern/postern/score"
)

// runMigrate copies the Bayes, quarantine and greylisting state from one backend to
// the other: SQLite files in a directory, or a PostgreSQL database.
func runMigrate(args []string) int {
	fs, _ := newFlags("migrate", "migrate --from DATA_DIR|postgres://… --to DATA_DIR|postgres://…", `
Copies Postern's state (Bayes, quarantine, greylisting) between SQLite files in a
data directory and a PostgreSQL database, either way. Stop serve on the source first,
so that nothing changes while it copies.

The Bayes store at the destination is replaced by the source's. Quarantine records
the destination already holds (by id) are kept, so a migration that failed half-way
can be run again. Greylisting records are written over those of the same key.`)
	from := fs.String("from", "", "the source: a data `directory` or a postgres:// URL")
	to := fs.String("to", "", "the destination: a data `directory` or a postgres:// URL")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if *from == "" || *to == "" || *from == *to {
		return fail("migrate: give --from and --to, different from each other")
	}
	src, dst := storageConfig(*from), storageConfig(*to)
	if src.Storage.URL == "" {
		if _, err := os.Stat(src.DataDir); err != nil {
			return fail("migrate: --from: %v", err)
		}
	}
	ctx := context.Background()
	if err := migrate(ctx, src, dst); err != nil {
		return fail("migrate: %v", err)
	}
	return 0
}

// storageConfig is the configuration of a store location given on the command line.
func storageConfig(loc string) config.Config {
	cfg := config.Default()
	if pgdb.IsURL(loc) {
		cfg.Storage.URL = loc
	} else {
		cfg.DataDir = loc
	}
	return cfg
}

func migrate(ctx context.Context, src, dst config.Config) error {
	fmt.Printf("migrating from %s to %s\n", describeStorage(src), describeStorage(dst))
	if storeExists(src, score.FileName) {
		from, err := openBayesStore(src)
		if err != nil {
			return err
		}
		defer from.Close()
		var buf bytes.Buffer
		if err := from.Export(ctx, &buf); err != nil {
			return err
		}
		to, err := openBayesStore(dst)
		if err != nil {
			return err
		}
		defer to.Close()
		if err := to.Import(ctx, &buf); err != nil {
			return err
		}
		st, err := to.Stats(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("bayes:      %d spam and %d ham learned, %d tokens\n", st.Spam, st.Ham, st.Tokens)
	}
	if storeExists(src, quarantine.FileName) {
		from, err := openQuarantineStore(src)
		if err != nil {
			return err
		}
		defer from.Close()
		to, err := openQuarantineStore(dst)
		if err != nil {
			return err
		}
		defer to.Close()
		n, err := quarantine.Copy(ctx, to, from)
		if err != nil {
			return fmt.Errorf("quarantine: %d records copied, then: %w", n, err)
		}
		fmt.Printf("quarantine: %d records copied\n", n)
	}
	if storeExists(src, policy.GreylistFileName) {
		from, err := openGreyStore(src)
		if err != nil {
			return err
		}
		defer from.Close()
		to, err := openGreyStore(dst)
		if err != nil {
			return err
		}
		defer to.Close()
		n, err := policy.CopyGrey(ctx, to, from)
		if err != nil {
			return err
		}
		fmt.Printf("greylist:   %d records copied\n", n)
	}
	return nil
}
