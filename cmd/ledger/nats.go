package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/entledger/ledger/server"
)

const natsHelp = `Usage:
  ledger nats secrets --out FILE [--routes HOST:PORT,...]

Writes a new set of the secrets of a NATS deployment (deploy/nats): the
passwords of its users (ledger, backup, reader, sys) and the ledger's
callout key, which signs the subscribers' users, as KEY=VALUE lines for an
environment file (docker compose --env-file FILE), readable by its owner
only. The NATS servers read every password and the callout key's public
half (LEDGER_NATS_CALLOUT_ISSUER); the ledgers read LEDGER_NATS_PASSWORD
and LEDGER_NATS_CALLOUT_KEY. With --routes (a cluster's route addresses),
it also writes NATS_ROUTES, the routes of deploy/nats/cluster.conf with the
route user and password in their URLs. An existing FILE is never
overwritten.
`

func runNATS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) || args[0] != "secrets" {
		fmt.Fprint(stderr, natsHelp)
		if len(args) > 0 && isHelp(args[0]) {
			return flag.ErrHelp
		}
		return &usageError{errors.New("nats: secrets?")}
	}
	fs := newFlagSet("nats secrets", "Write a new set of NATS deployment secrets to an environment file.", stderr)
	out := fs.String("out", "", "the file to write (required; never overwritten)")
	routes := fs.String("routes", "", "a cluster's route addresses, HOST:PORT,... (deploy/nats/cluster.conf's NATS_ROUTES)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return &usageError{errors.New("nats secrets: --out FILE is required")}
	}
	s, err := server.NewNATSSecrets()
	if err != nil {
		return err
	}
	env, err := s.Env()
	if err != nil {
		return err
	}
	if *routes != "" {
		k, v, _ := strings.Cut(server.RoutesEnv(s.RoutePassword, strings.Split(*routes, ",")), "=")
		env = append(env, k+"='"+v+"'") // quoted for a shell and for compose's env_file alike
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("nats secrets: %w", err)
	}
	body := "# NATS deployment secrets, made by `ledger nats secrets`. Keep this file out of images and repositories.\n" +
		strings.Join(env, "\n") + "\n"
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (mode 0600)\n", *out)
	return nil
}
