package ledger_test

import (
	"net"
	"slices"
	"strings"
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/entledger/ledger/server"
)

// The NATS configurations we ship, as nats-server reads them with the
// secrets `ledger nats secrets` makes in its environment: server.conf,
// which docker-compose.yml runs, and cluster.conf, every server of a
// three-server cluster. Each keeps the embedded server's durability (every
// write synced), includes accounts.conf (beside it) so that every client
// authenticates, its users with the passwords from the environment and
// everyone else through the ledger's auth callout, and listens for
// monitoring on loopback only. The cluster's routes authenticate.
func TestComposeNATSConfig(t *testing.T) {
	secrets, err := server.NewNATSSecrets()
	if err != nil {
		t.Fatal(err)
	}
	env, err := secrets.Env()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	const serverName = "nats-1"
	t.Setenv("NATS_SERVER_NAME", serverName)
	t.Setenv("NATS_STORE_DIR", "/data")
	t.Setenv("NATS_CLUSTER_LISTEN", "0.0.0.0:6222")
	routes, _ := strings.CutPrefix(server.RoutesEnv(secrets.RoutePassword, []string{"nats-1:6222", "nats-2:6222", "nats-3:6222"}), "NATS_ROUTES=")
	t.Setenv("NATS_ROUTES", routes)

	for _, file := range []string{"server.conf", "cluster.conf"} {
		t.Run(file, func(t *testing.T) {
			opts, err := natsserver.ProcessConfigFile("../deploy/nats/" + file)
			if err != nil {
				t.Fatalf("deploy/nats/%s: %v", file, err)
			}
			checkShippedNATSOptions(t, opts, secrets)
			if file != "cluster.conf" {
				return
			}
			c := opts.Cluster
			if c.Name == "" || c.Port == 0 || len(opts.Routes) != 3 {
				t.Errorf("cluster %q on port %d with %d routes; want a name, a port and the three servers' routes", c.Name, c.Port, len(opts.Routes))
			}
			for _, r := range opts.Routes {
				// A server sends a route's URL's user and password, and
				// nothing without them.
				if pw, _ := r.User.Password(); r.User == nil || r.User.Username() != c.Username || pw != secrets.RoutePassword {
					t.Errorf("route %s does not carry the route user and password", r.Redacted())
				}
			}
			switch {
			case c.Username == "":
				t.Errorf("cluster: no authorization { user, password }: whoever reaches the cluster port joins the cluster")
			case c.Password != secrets.RoutePassword:
				t.Errorf("cluster: the password of route user %q is not %s from the environment", c.Username, server.EnvRoutePassword)
			}
			if opts.ServerName != serverName {
				t.Errorf("server_name %q, want %q from NATS_SERVER_NAME", opts.ServerName, serverName)
			}
		})
	}
}

// checkShippedNATSOptions checks what every shipped NATS configuration
// has: JetStream synced on every write, the accounts of accounts.conf, its
// users with the deployment's passwords, the ledger's auth callout, and the
// monitoring port on loopback.
func checkShippedNATSOptions(tb testing.TB, opts *natsserver.Options, secrets server.NATSSecrets) {
	tb.Helper()
	if !opts.JetStream || !opts.SyncAlways {
		tb.Errorf("jetstream %v, sync always %v; want both true", opts.JetStream, opts.SyncAlways)
	}

	var accounts []string
	for _, a := range opts.Accounts {
		accounts = append(accounts, a.Name)
	}
	for _, want := range []string{"LEDGER", "SUBSCRIBERS", "OPS", "SYS"} {
		if !slices.Contains(accounts, want) {
			tb.Errorf("accounts %q, want %s among them (include ./accounts.conf)", accounts, want)
		}
	}
	if opts.SystemAccount != "SYS" {
		tb.Errorf("system_account %q, want SYS", opts.SystemAccount)
	}

	passwords := map[string]string{
		server.LedgerNATSUser: secrets.LedgerPassword,
		server.BackupNATSUser: secrets.BackupPassword,
		server.ReaderNATSUser: secrets.ReaderPassword,
		server.SysNATSUser:    secrets.SysPassword,
	}
	for _, u := range opts.Users {
		want, ok := passwords[u.Username]
		switch {
		case !ok:
			tb.Errorf("user %q is not one of accounts.conf's", u.Username)
		case want == "" || u.Password != want:
			tb.Errorf("user %q: the password is not the one in the environment", u.Username)
		}
		delete(passwords, u.Username)
	}
	for user := range passwords {
		tb.Errorf("no user %q", user)
	}
	if opts.NoAuthUser != "" {
		tb.Errorf("no_auth_user %q lets a client in without credentials", opts.NoAuthUser)
	}

	issuer, _ := secrets.CalloutKey.PublicKey()
	switch ac := opts.AuthCallout; {
	case ac == nil:
		tb.Errorf("no authorization { auth_callout }: nothing admits subscribers")
	case ac.Issuer != issuer || ac.Account != "LEDGER":
		tb.Errorf("auth_callout issuer %q in account %q; want %s (%s) in LEDGER", ac.Issuer, ac.Account, issuer, server.EnvCalloutIssuer)
	default:
		for _, u := range []string{server.LedgerNATSUser, server.BackupNATSUser, server.ReaderNATSUser, server.SysNATSUser} {
			if !slices.Contains(ac.AuthUsers, u) {
				tb.Errorf("auth_callout auth_users %q, want %s among them: the callout would be asked for it", ac.AuthUsers, u)
			}
		}
	}

	host := opts.HTTPHost
	if host == "" {
		host = opts.Host // nats-server's default for the monitoring host
	}
	if host == "" {
		host = natsserver.DEFAULT_HOST
	}
	if ip := net.ParseIP(host); opts.HTTPPort == 0 || ip == nil || !ip.IsLoopback() {
		tb.Errorf("monitoring on %q port %d; want a port on loopback (http: 127.0.0.1:8222): it answers without authentication", host, opts.HTTPPort)
	}
}
