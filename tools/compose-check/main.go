// compose-check loads a compose file the way `docker compose config` does (compose-go: the
// compose-spec JSON schema, interpolation, env files, consistency of the references between
// services, networks and volumes) and prints the resolved project as JSON, or the error and exit 1.
//
//	compose-check -f docker-compose.yml [-env-file .env] [-profile p]
//
// Only the env file is read for interpolation, never this process's environment, so that the
// result does not depend on the shell it runs in.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var files, envFiles, profiles list
	flag.Var(&files, "f", "compose file (repeatable)")
	flag.Var(&envFiles, "env-file", "env file for interpolation (repeatable; default: .env next to the first compose file, if any)")
	flag.Var(&profiles, "profile", "profile to enable (repeatable)")
	flag.Parse()
	if len(files) == 0 {
		fail("usage: compose-check -f docker-compose.yml [-env-file .env] [-profile name]")
	}
	dir, err := filepath.Abs(filepath.Dir(files[0]))
	if err != nil {
		fail(err.Error())
	}
	options, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(dir),
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithProfiles(profiles),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		fail(err.Error())
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err.Error())
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fail(err.Error())
	}
	fmt.Println(string(out))
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, "compose-check:", message)
	os.Exit(1)
}
