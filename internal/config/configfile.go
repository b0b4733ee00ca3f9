package config

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/pflag"

	"github.com/awf-dev/awf/internal/configfile"
)

// --config <path|->: the document's keys are applied to the flag set as if
// given on the command line, for every flag the command line did not give
// (spec §3: CLI flags, then the file, then defaults). So a key means
// exactly what its flag means, and Build reads flags only.

type configFileFlags struct {
	path string
	// Stdin is what `--config -` reads (nil: os.Stdin).
	Stdin io.Reader
	// fromConfig maps each flag the document set to its key, for messages.
	fromConfig map[string]string
}

func (c *configFileFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&c.path, "config", "", "Path to an AWF JSON/YAML config `file` (use \"-\" to read from stdin); flags on the command line win over it")
}

// apply loads the document and sets the flags it maps to. It runs first in
// Build, before any flag is read. A flag no part of this awf registers
// (a feature not built yet) gets a one-line notice, so the key starts to
// work the day its flag is registered.
func (c *configFileFlags) apply(fs *pflag.FlagSet, sys System) ([]Warning, error) {
	c.fromConfig = map[string]string{}
	if c.path == "" {
		return nil, nil
	}
	stdin := c.Stdin
	if stdin == nil {
		stdin = os.Stdin
	}
	dir, _ := os.Getwd()
	doc, err := configfile.Load(c.path, configfile.Source{ReadFile: sys.ReadFile, Stdin: stdin, Dir: dir})
	if err != nil {
		return nil, errorf("Error loading --config: %v", err)
	}
	m, err := configfile.Map(doc)
	if err != nil {
		return nil, errorf("Error loading --config: %v", err)
	}
	var warns []Warning
	for _, n := range m.Notices {
		l := slog.LevelWarn
		if n.Debug {
			l = slog.LevelDebug
		}
		warns = append(warns, Warning{Level: l, Msg: n.Msg})
	}
	// What the command line gave, before the document changes anything.
	cli := map[string]bool{}
	fs.Visit(func(fl *pflag.Flag) { cli[fl.Name] = true })
	for _, a := range m.Assignments {
		fl := fs.Lookup(a.Flag)
		switch {
		case fl == nil:
			warns = append(warns, Warning{Level: slog.LevelWarn,
				Msg: fmt.Sprintf("config key %s (--%s) is not yet supported by this awf and is ignored", a.Key, a.Flag)})
			continue
		case cli[a.Flag]:
			warns = append(warns, Warning{Level: slog.LevelDebug,
				Msg: fmt.Sprintf("--%s on the command line wins over config key %s", a.Flag, a.Key)})
			continue
		case a.Bool && len(a.Values) == 1 && a.Values[0] == fl.DefValue:
			continue // false for a default-false flag: nothing asked
		}
		for _, v := range a.Values {
			if err := fs.Set(a.Flag, v); err != nil {
				return nil, errorf("Error loading --config: config.%s: %v", a.Key, err)
			}
		}
		c.fromConfig[a.Flag] = a.Key
	}
	return warns, nil
}
