package main

import (
	"fmt"
	"os"

	"github.com/postern/postern/config"
)

func runConfig(args []string) int {
	fs, c := newFlags("config", "config test|doc [-c FILE]", `
config test   reads the configuration file and prints every problem with file:line
              (unknown keys, wrong types, values that make no sense); exit status 1
              when there is any. Without -c, a missing default file means built-in
              defaults, which are valid.
config doc    prints the configuration reference (docs/configuration.md) in Markdown.`)
	if code, stop := parse(fs, args); stop {
		return code
	}
	switch fs.Arg(0) {
	case "test":
		cfg, err := c.load(fs)
		if err != nil {
			if ps, ok := err.(config.Problems); ok {
				for _, p := range ps {
					fmt.Fprintln(os.Stderr, p)
				}
				return fail("%s: %d problem(s)", c.configPath, len(ps))
			}
			return fail("%v", err)
		}
		if ps := cfg.Validate(); len(ps) > 0 { // --data-dir may have made it invalid
			return fail("%v", ps)
		}
		if _, err := os.Stat(c.configPath); err != nil {
			fmt.Printf("%s: not found, built-in defaults are valid\n", c.configPath)
			return 0
		}
		fmt.Printf("%s: OK\n", c.configPath)
		return 0
	case "doc":
		fmt.Print(config.Reference())
		return 0
	}
	fs.Usage()
	return 2
}
