// The commented security.toml that `weed-ts scaffold -config=security` prints: SeaweedFS's
// template for the parts weed-ts has (same section and key names, so one file serves both), plus
// weed-ts's own [jwt.admin]. Every protection is off as printed; a test loads it with no warnings.

export const securityTemplate = `# security.toml for weed-ts (SeaweedFS's keys; read by master, volume server,
# shell and benchmark). Put it in one of these places, first found wins:
#    ./security.toml
#    $HOME/.seaweedfs/security.toml
#    /usr/local/etc/seaweedfs/security.toml
#    /etc/seaweedfs/security.toml
# or name it with -security=PATH (then it must exist).
# Any value weed-ts reads can also come from an environment variable, which wins over this file
# (as in SeaweedFS): WEED_ + the section and key, dots as underscores, upper case, e.g.
# WEED_JWT_SIGNING_KEY, WEED_JWT_SIGNING_READ_KEY, WEED_GUARD_WHITE_LIST.
# Every protection below is off as printed: an empty key or path leaves it off. With none on, the
# master logs at start that anyone who can reach the ports can write, delete and change the cluster.
# Sections of SeaweedFS for parts weed-ts does not have (filer, s3, admin UI, ...) are accepted and
# ignored; a key neither knows is named in a warning at start; a bad value stops the process.

# This jwt signing key is read by master and volume server, and it is used for write operations:
# - the master generates the JWT (the "auth" of /dir/assign), which can be used to write a certain
#   file on a volume server
# - the volume server validates the JWT on writing and deleting
# the jwt defaults to expire after 10 seconds.
[jwt.signing]
key = ""
expires_after_seconds = 10           # seconds

# The same for reads: /dir/lookup?fileId= returns a token, the volume server checks it on reads.
# the jwt defaults to expire after 60 seconds.
[jwt.signing.read]
key = ""
expires_after_seconds = 60           # seconds

# weed-ts: administrative operations (master membership add/remove/transfer, /vol/grow, vacuum,
# volume delete, repair) need a token signed with this key; the shell signs its own with it.
[jwt.admin]
key = ""

# gRPC mTLS configuration: all gRPC TLS authentications are mutual, heartbeats and the Raft
# transport included. The values for ca, cert and key are paths to PEM files, checked at start.
[grpc]
ca = ""

# Volume server gRPC options (server side).
[grpc.volume]
cert = ""
key = ""
allowed_commonNames = ""    # comma-separated SSL certificate common names (empty: any the CA signed)

# Master server gRPC options (server side).
[grpc.master]
cert = ""
key = ""
allowed_commonNames = ""    # comma-separated SSL certificate common names (empty: any the CA signed)

# gRPC client configuration for outgoing gRPC connections (shell, benchmark, volume servers
# heartbeating, masters calling volume servers).
[grpc.client]
cert = ""
key = ""

# HTTPS client configuration for outgoing HTTP connections (every process: masters forwarding
# and joining, volume servers replicating, the shell, the benchmark). HTTPS is all or nothing in
# weed-ts: set [https.master], [https.volume] and enabled = true together.
[https.client]
enabled = false
cert = ""        # client certificate for mTLS (required when the servers set ca)
key = ""
ca = ""          # CA certificate to verify server certificates (chain checked, not host names)
insecure_skip_verify = false  # accept any server certificate (testing only)

# Volume server HTTPS options (server side); with ca set, clients must present a certificate.
[https.volume]
cert = ""
key = ""
ca = ""

# Master server HTTPS options (server side); with ca set, clients must present a certificate.
[https.master]
cert = ""
key = ""
ca = ""

# White list: IPs and CIDRs (IPv4 or IPv6, comma-separated) allowed to write, delete and
# administer; reads stay open. Empty = everyone. Must include the cluster's own hosts: volume
# servers replicate writes to each other. The -whiteList flag adds to it.
[guard]
white_list = ""
# weed-ts: client-certificate common names (comma-separated) that hold the admin credential, as
# an admin token does: checked on gRPC ([grpc] mutual TLS) and on the masters' HTTPS admin routes
# ([https.master] ca). Needs [grpc] mutual TLS or [jwt.admin] key; with names and no key, list the
# name of the certificate the masters dial with (they allocate volumes and repair).
admin_commonNames = ""
`;

/** The -config values `weed-ts scaffold` knows. */
export const SCAFFOLD_CONFIGS: Readonly<Record<string, string>> = { security: securityTemplate };
