using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using StackExchange.Redis;
using Tessera.TestServices;

namespace Tessera.Redis.Tests;

/// <summary>The Redis set-ups beyond a single plain node that the tests run on.</summary>
public enum RedisTopologyKind
{
    /// <summary>One node that listens only for TLS, with a password; its certificate is issued by a CA the run makes.</summary>
    Tls,

    /// <summary>A primary and its replica, behind one Sentinel that knows them as service <c>tessera</c>.</summary>
    Sentinel,

    /// <summary>A Redis Cluster of three masters, no replicas.</summary>
    Cluster,
}

/// <summary>The xunit collections of the topology tests: the classes of one set-up run one after the other.</summary>
public static class RedisTopologyCollections
{
    /// <summary>The TLS node's tests.</summary>
    public const string Tls = "redis-tls";

    /// <summary>The Sentinel set's tests.</summary>
    public const string Sentinel = "redis-sentinel";

    /// <summary>The cluster's tests.</summary>
    public const string Cluster = "redis-cluster";

    /// <summary>The failover tests (each starts and breaks a Sentinel set of its own).</summary>
    public const string Failover = "redis-failover";
}

/// <summary>
/// A Redis set-up the tests share for the whole run: the one test.sh started (its StackExchange.Redis configuration
/// string in <c>TESSERA_TEST_REDIS_TLS</c> with the CA in <c>TESSERA_TEST_REDIS_TLS_CA</c>,
/// <c>TESSERA_TEST_REDIS_SENTINEL</c>, <c>TESSERA_TEST_REDIS_CLUSTER</c>), otherwise one started here through
/// <c>scripts/services.sh</c> on first use and removed at exit. Never skipped: a set-up that cannot start fails the tests.
/// Tests write under key prefixes of their own, so the shared servers' other data is never touched.
/// </summary>
public sealed class RedisTopology
{
    private static readonly Lazy<Task<RedisTopology>>[] Shared =
        [.. Enum.GetValues<RedisTopologyKind>().Select(kind => new Lazy<Task<RedisTopology>>(() => StartSharedAsync(kind), LazyThreadSafetyMode.ExecutionAndPublication))];

    private readonly Lazy<Task<ConnectionMultiplexer>> _connection;

    private RedisTopology(RedisTopologyKind kind, string configuration, string? certificateAuthority)
    {
        Kind = kind;
        ConfigurationString = configuration;
        CertificateAuthority = certificateAuthority;
        _connection = new(() =>
        {
            var options = Options();
            options.AllowAdmin = true;
            return ConnectAsync(options);
        }, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>Which set-up.</summary>
    public RedisTopologyKind Kind { get; }

    /// <summary>The StackExchange.Redis configuration string an application would be given (it trusts no extra CA).</summary>
    public string ConfigurationString { get; }

    /// <summary>The PEM file of the CA that issued the TLS node's certificate; <see langword="null"/> for the others.</summary>
    public string? CertificateAuthority { get; }

    /// <summary>The set-up of <paramref name="kind"/> for the run, started on first use.</summary>
    public static Task<RedisTopology> SharedAsync(RedisTopologyKind kind) => Shared[(int)kind].Value;

    /// <summary>
    /// <see cref="ConfigurationString"/> parsed, trusting <see cref="CertificateAuthority"/> as the only issuer of the
    /// server's certificate (never "accept any certificate"), and reconnecting quickly after a loss.
    /// </summary>
    public ConfigurationOptions Options() => Options(ConfigurationString, CertificateAuthority);

    /// <summary>A configuration string parsed, trusting <paramref name="certificateAuthority"/> when given.</summary>
    public static ConfigurationOptions Options(string configuration, string? certificateAuthority)
    {
        var options = ConfigurationOptions.Parse(configuration);
        if (certificateAuthority is not null)
        {
            options.TrustIssuer(certificateAuthority);
        }
        options.ReconnectRetryPolicy = new LinearRetry(200);
        return options;
    }

    /// <summary>
    /// The run's multiplexer on this set-up, for tests and kits that look at the servers (admin commands allowed, such as
    /// CONFIG GET) or hand it to a store.
    /// </summary>
    public Task<ConnectionMultiplexer> ConnectionAsync() => _connection.Value;

    /// <summary>Connects, failing (never waiting forever) when the set-up cannot be reached.</summary>
    public static async Task<ConnectionMultiplexer> ConnectAsync(ConfigurationOptions options)
    {
        options.AbortOnConnectFail = true;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    /// <summary>
    /// The keys starting with <paramref name="prefix"/> on each primary the multiplexer sees (every master of a cluster, the
    /// Sentinel's current primary), by SCAN; replicas are left out, since they hold copies.
    /// </summary>
    public static async Task<IReadOnlyDictionary<EndPoint, List<RedisKey>>> KeysByPrimaryAsync(IConnectionMultiplexer connection, string prefix)
    {
        var keys = new Dictionary<EndPoint, List<RedisKey>>();
        foreach (var server in connection.GetServers().Where(s => s.IsConnected && !s.IsReplica && s.ServerType != ServerType.Sentinel))
        {
            var list = new List<RedisKey>();
            await foreach (var key in server.KeysAsync(pattern: Glob(prefix) + "*", pageSize: 1000))
            {
                list.Add(key);
            }
            keys[server.EndPoint] = list;
        }
        return keys;
    }

    /// <summary>
    /// Asks the Sentinel of a configuration string (<c>host:port,serviceName=name</c>) which node is its service's primary
    /// now; <see langword="null"/> when the Sentinel does not answer (a busy machine can make a connection time out, so
    /// callers that poll simply ask again).
    /// </summary>
    public static async Task<EndPoint?> SentinelPrimaryAsync(string configuration)
    {
        var options = ConfigurationOptions.Parse(configuration);
        var serviceName = options.ServiceName ?? throw new ArgumentException("The configuration names no serviceName.", nameof(configuration));
        options.ServiceName = null;
        options.CommandMap = CommandMap.Sentinel;
        options.ConnectTimeout = 10_000;
        try
        {
            await using var sentinel = await ConnectAsync(options);
            return await sentinel.GetServer(options.EndPoints.Single()).SentinelGetMasterAddressByNameAsync(serviceName);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
        {
            return null;
        }
    }

    /// <summary>Deletes every key starting with <paramref name="prefix"/> on every primary (one key per command: a cluster refuses a DEL across slots).</summary>
    public async Task DeleteKeysAsync(string prefix)
    {
        var connection = await ConnectionAsync();
        var db = connection.GetDatabase();
        foreach (var (_, keys) in await KeysByPrimaryAsync(connection, prefix))
        {
            foreach (var chunk in keys.Chunk(500))
            {
                await Task.WhenAll(chunk.Select(key => db.KeyDeleteAsync(key)));
            }
        }
    }

    private static string Glob(string text) => string.Concat(text.Select(c => c is '*' or '?' or '[' or ']' or '\\' ? "\\" + c : c.ToString()));

    private static async Task<RedisTopology> StartSharedAsync(RedisTopologyKind kind)
    {
        var given = Environment.GetEnvironmentVariable(RedisTopologyServers.VariableOf(kind))?.Trim();
        var ca = kind == RedisTopologyKind.Tls ? Environment.GetEnvironmentVariable("TESSERA_TEST_REDIS_TLS_CA")?.Trim() : null;
        if (!string.IsNullOrEmpty(given) && (kind != RedisTopologyKind.Tls || !string.IsNullOrEmpty(ca)))
        {
            return new RedisTopology(kind, given, ca);
        }
        var servers = await RedisTopologyServers.StartAsync(kind);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => servers.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return new RedisTopology(kind, servers.ConfigurationString, servers.CertificateAuthority);
    }
}

/// <summary>
/// A Redis set-up of one test or of the run, in a temp directory of its own, started by <c>scripts/services.sh</c> (as
/// test.sh starts the shared ones). Disposing stops every node and deletes the directory.
/// </summary>
public sealed class RedisTopologyServers : IAsyncDisposable
{
    private readonly IReadOnlyDictionary<string, string> _values;

    private RedisTopologyServers(RedisTopologyKind kind, string directory, IReadOnlyDictionary<string, string> values, string configuration)
    {
        Kind = kind;
        Directory = directory;
        _values = values;
        ConfigurationString = configuration;
    }

    /// <summary>Which set-up.</summary>
    public RedisTopologyKind Kind { get; }

    /// <summary>Its directory: one subdirectory per node (<c>tls</c> certificates; <c>primary</c>, <c>replica</c>, <c>sentinel</c>; <c>n1</c>..<c>n3</c>).</summary>
    public string Directory { get; }

    /// <summary>Its StackExchange.Redis configuration string (for TLS it includes the password; the CA is <see cref="CertificateAuthority"/>).</summary>
    public string ConfigurationString { get; }

    /// <summary>The TLS node's CA certificate (PEM); <see langword="null"/> for the others.</summary>
    public string? CertificateAuthority => _values.GetValueOrDefault("ca");

    /// <summary>For Sentinel: the primary's <c>host:port</c> when it started.</summary>
    public string PrimaryAddress => _values["primary"];

    /// <summary>For Sentinel: the replica's <c>host:port</c> when it started.</summary>
    public string ReplicaAddress => _values["replica"];

    /// <summary>The variable test.sh exports for a set-up of <paramref name="kind"/>.</summary>
    public static string VariableOf(RedisTopologyKind kind) => kind switch
    {
        RedisTopologyKind.Tls => "TESSERA_TEST_REDIS_TLS",
        RedisTopologyKind.Sentinel => "TESSERA_TEST_REDIS_SENTINEL",
        _ => "TESSERA_TEST_REDIS_CLUSTER",
    };

    /// <summary>Starts a set-up of <paramref name="kind"/> (the TLS node with a random password).</summary>
    public static async Task<RedisTopologyServers> StartAsync(RedisTopologyKind kind)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory($"tessera-redis-{kind.ToString().ToLowerInvariant()}-").FullName;
        try
        {
            var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            var values = await ServicesScript.RunAsync(kind == RedisTopologyKind.Tls
                ? ["start", ServiceOf(kind), directory, "--", "--requirepass", password]
                : ["start", ServiceOf(kind), directory]);
            var configuration = kind switch
            {
                RedisTopologyKind.Tls => $"{values["address"]},ssl=true,sslHost=localhost,password={password}",
                RedisTopologyKind.Sentinel => $"{values["sentinel"]},serviceName={values["service"]}",
                _ => values["endpoints"],
            };
            return new RedisTopologyServers(kind, directory, values, configuration);
        }
        catch
        {
            await ServicesScript.RunAsync("remove", ServiceOf(kind), directory);
            throw;
        }
    }

    /// <summary>Stops one node (<c>primary</c>, <c>replica</c>, <c>n2</c>...) by its pid: TERM a clean shutdown, KILL a crash.</summary>
    public Task HaltAsync(string node, string signal) => ServicesScript.RunAsync("halt", "redis", Path.Combine(Directory, node), signal);

    /// <summary>Starts a stopped node again, on its port, with its data and arguments.</summary>
    public Task StartAsync(string node) => ServicesScript.RunAsync("start", "redis", Path.Combine(Directory, node));

    /// <summary>The port of a node, from its directory.</summary>
    public int PortOf(string node) => int.Parse(File.ReadAllText(Path.Combine(Directory, node, "port")).Trim(), CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await ServicesScript.RunAsync("remove", ServiceOf(Kind), Directory);

    private static string ServiceOf(RedisTopologyKind kind) => kind switch
    {
        RedisTopologyKind.Tls => "redis-tls",
        RedisTopologyKind.Sentinel => "redis-sentinel",
        _ => "redis-cluster",
    };
}
