package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "Run the ledger: the HTTP API, the projections and (by default) an embedded NATS JetStream.", stderr)
	var sf storeFlags
	sf.register(fs, true)
	var lf logFlags
	lf.register(fs)
	httpAddr := fs.String("http", "127.0.0.1:8080", "HTTP API address (port 0 picks a free port)")
	checkoutKey := fs.String("checkout-key", "",
		"Ed25519 private key (PKCS #8 PEM) that signs offline checkout tokens; default DATA/keys/checkout.ed25519, created on first start")
	usageHorizon := fs.Duration("usage-horizon", commands.DefaultUsageHorizon,
		"usage that started longer ago than this is rejected usage_too_old (F3)")
	sessionTTL := fs.Duration("session-ttl", commands.DefaultSessionTTL,
		"a sign-in session ends after this long without a refresh or heartbeat (D3)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := sf.config()
	if err != nil {
		return err
	}
	if *httpAddr == "" {
		return fmt.Errorf("--http: an address is required")
	}
	cfg.HTTPAddr = *httpAddr
	if *sessionTTL <= 0 {
		return fmt.Errorf("--session-ttl: %s; want a positive duration", *sessionTTL)
	}
	cfg.SessionTTL = *sessionTTL
	cfg.CheckoutKey = *checkoutKey
	if *usageHorizon <= 0 {
		return fmt.Errorf("--usage-horizon: %s; want a positive duration", *usageHorizon)
	}
	cfg.UsageHorizon = *usageHorizon
	if cfg.Logger, err = lf.logger(stderr); err != nil {
		return err
	}

	srv, err := ledger.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening on http://%s\n", srv.Addr())
	if u := srv.NATSURL(); u != "" {
		cfg.Logger.Info("embedded NATS accepts subscribers", "url", u)
	}
	cfg.Logger.Info("ledger started", "data", cfg.DataDir, "http", srv.Addr())
	werr := srv.Wait(ctx)
	cfg.Logger.Info("ledger stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Close(sctx); err != nil && werr == nil {
		werr = err
	}
	return werr
}
