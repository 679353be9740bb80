using Npgsql;
using StackExchange.Redis;
using Tessera.NearCache;
using Tessera.PostgreSql;
using Tessera.Redis;
using Tessera.Sqlite;

namespace Tessera.Cli.Tests;

public sealed class SqliteCliTests : CliStoreTests
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tessera-cli-").FullName;
    private SqliteSessionStore? _store;

    private string DatabasePath => Path.Combine(_directory, "sessions.db");

    protected override string StoreUrl => "sqlite:" + DatabasePath;

    protected override Task<ISessionStore> OpenStoreAsync() =>
        Task.FromResult<ISessionStore>(_store ??= new SqliteSessionStore(new SqliteSessionStoreOptions { ConnectionString = "Data Source=" + DatabasePath }));

    public override async ValueTask DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

public sealed class PostgreSqlCliTests : SharedStoreCliTests
{
    private const string Password = "pg-Secret-7f3a";
    private string _url = "";
    private string _connectionString = "";
    private PostgreSqlSessionStore? _store;

    protected override string StoreUrl => _url;

    protected override Task<ISessionStore> OpenStoreAsync() =>
        Task.FromResult<ISessionStore>(_store ??= new PostgreSqlSessionStore(new PostgreSqlSessionStoreOptions { ConnectionString = _connectionString }));

    protected override ISessionInvalidationChannel CreateChannel(ISessionStore store) => new PostgreSqlSessionInvalidationChannel((PostgreSqlSessionStore)store);

    public override async ValueTask InitializeAsync()
    {
        var admin = TestServices.Postgres();
        var database = "tessera_cli_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", connection);
            await create.ExecuteNonQueryAsync();
        }
        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = database };
        _connectionString = builder.ConnectionString;
        // test.sh's server trusts local connections, so any password works; the tests check it is never printed.
        _url = $"postgres://{builder.Username ?? "postgres"}:{Password}@{builder.Host}:{builder.Port}/{database}";
        var migrate = await Cli.RunAsync("--store", _url, "migrate");
        Assert.True(migrate.ExitCode == 0, migrate.All);
        Assert.DoesNotContain(Password, migrate.All, StringComparison.Ordinal);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
    }

    [Fact]
    public async Task ThePasswordIsNeverPrinted()
    {
        await SeedAsync();
        foreach (var args in new[] { new[] { "stats" }, ["list"], ["stats", "--json"], ["list", "--json"], ["clear"] })
        {
            var result = await Cli.RunAsync(["--store", _url, .. args]);
            Assert.DoesNotContain(Password, result.All, StringComparison.Ordinal);
        }
    }
}

/// <summary>
/// The suite on a Redis the tool reaches through one of its forms of <c>--store</c>; the tests seed and check through a
/// multiplexer of their own, under a key prefix of each instance's own.
/// </summary>
public abstract class RedisCliTestsBase : SharedStoreCliTests
{
    private IConnectionMultiplexer? _connection;
    private RedisSessionStore? _store;

    protected string Prefix { get; } = "tessera-cli-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>The same form as <see cref="CliStoreTests.StoreUrl"/> without a key prefix.</summary>
    protected abstract string UnprefixedStoreUrl { get; }

    /// <summary>What else the tool needs to reach this Redis besides <c>--store</c> (none by default).</summary>
    protected virtual IEnumerable<string> ConnectionArguments => [];

    protected override IEnumerable<string> StoreArguments => ["--store", StoreUrl, .. ConnectionArguments];

    /// <summary>How the tests themselves connect to the same Redis.</summary>
    protected abstract Task<ConfigurationOptions> ConnectionAsync();

    [Fact]
    public async Task ThePrefixOptionWinsOverThePrefixTheStoreNames()
    {
        await SeedAsync();

        var other = (await Cli.RunAsync([.. StoreArguments, "--prefix", Prefix + "-other", "stats", "--json"])).Json();
        var mine = (await Cli.RunAsync(["--store", UnprefixedStoreUrl, .. ConnectionArguments, "--prefix", Prefix, "stats", "--json"])).Json();

        Assert.Equal(0, other.GetProperty("total").GetInt64());
        Assert.Equal(4, mine.GetProperty("total").GetInt64());
    }

    protected override ISessionInvalidationChannel CreateChannel(ISessionStore store) => new RedisSessionInvalidationChannel((RedisSessionStore)store);

    protected override async Task<ISessionStore> OpenStoreAsync()
    {
        _connection ??= await ConnectionMultiplexer.ConnectAsync(await ConnectionAsync());
        return _store ??= new RedisSessionStore(_connection, new RedisSessionStoreOptions { KeyPrefix = Prefix });
    }

    public override async ValueTask DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.ClearAsync();
            await _store.DisposeAsync();
        }
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }
}

/// <summary>The suite through a <c>redis://</c> URL.</summary>
public sealed class RedisCliTests : RedisCliTestsBase
{
    protected override string StoreUrl => $"{UnprefixedStoreUrl}/0?prefix={Prefix}";

    protected override string UnprefixedStoreUrl => $"redis://{TestServices.Redis()}";

    protected override Task<ConfigurationOptions> ConnectionAsync() => Task.FromResult(ConfigurationOptions.Parse(TestServices.Redis()));
}

/// <summary>The suite through <c>redis:</c> and a StackExchange.Redis configuration string, the prefix among its options.</summary>
public sealed class RedisConfigurationStringCliTests : RedisCliTestsBase
{
    protected override string StoreUrl => $"{UnprefixedStoreUrl},defaultDatabase=0,abortConnect=true,connectTimeout=5000,syncTimeout=30000,prefix={Prefix}";

    protected override string UnprefixedStoreUrl => $"redis:{TestServices.Redis()}";

    protected override Task<ConfigurationOptions> ConnectionAsync() => Task.FromResult(ConfigurationOptions.Parse(TestServices.Redis()));
}

/// <summary>
/// The suite through a <c>rediss://</c> URL on the run's TLS-only Redis (a password, no plain port), trusting the run's
/// CA with <c>--tls-ca</c>; and the same server through a configuration string with <c>ssl=true</c>.
/// </summary>
public sealed class RedisTlsCliTests : RedisCliTestsBase
{
    private TestServices.TlsRedis _tls = null!;

    protected override string StoreUrl => $"{UnprefixedStoreUrl}?prefix={Prefix}";

    protected override string UnprefixedStoreUrl => $"rediss://:{Uri.EscapeDataString(_tls.Password)}@{_tls.Host}:{_tls.Port}";

    protected override IEnumerable<string> ConnectionArguments => ["--tls-ca", _tls.CertificateAuthority];

    private string ConfigurationStringUrl => $"redis:{_tls.ConfigurationString},prefix={Prefix}";

    public override async ValueTask InitializeAsync() => _tls = await TestServices.RedisTlsAsync();

    protected override Task<ConfigurationOptions> ConnectionAsync()
    {
        var options = ConfigurationOptions.Parse(_tls.ConfigurationString);
        options.TrustIssuer(_tls.CertificateAuthority);
        return Task.FromResult(options);
    }

    [Fact]
    public async Task AConfigurationStringWithSslReachesTheSameStore()
    {
        await SeedAsync();

        var stats = (await Cli.RunAsync("--store", ConfigurationStringUrl, "--tls-ca", _tls.CertificateAuthority, "stats", "--json")).Json();

        Assert.Equal(4, stats.GetProperty("total").GetInt64());
        Assert.Equal(2, stats.GetProperty("live").GetInt64());
    }

    [Fact]
    public async Task ThePasswordIsNeverPrintedInEitherForm()
    {
        Assert.False(string.IsNullOrEmpty(_tls.Password), "the TLS Redis of the run has a password");
        await SeedAsync();
        foreach (var store in new[] { StoreUrl, ConfigurationStringUrl })
        {
            foreach (var args in new[] { new[] { "stats" }, ["list"], ["stats", "--json"], ["list", "--json"], ["migrate", "--json"], ["clear"] })
            {
                var result = await Cli.RunAsync(["--store", store, "--tls-ca", _tls.CertificateAuthority, .. args]);
                Assert.True(result.ExitCode is 0 or 4, result.All);
                Assert.DoesNotContain(_tls.Password, result.All, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task WithoutTrustingItsCaTheTlsRedisIsAStoreErrorThatDoesNotPrintThePassword()
    {
        foreach (var store in new[] { StoreUrl, ConfigurationStringUrl })
        {
            var result = await Cli.RunAsync("--store", store, "stats");

            Assert.Equal(3, result.ExitCode);
            Assert.Contains("certificate", result.Error, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(_tls.Password, result.All, StringComparison.Ordinal);
        }
    }
}

/// <summary>The servers test.sh starts. Never skipped: without them the tests fail and say how to get them.</summary>
internal static class TestServices
{
    private static readonly Lazy<Task<TlsRedis>> Tls = new(StartTlsAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Postgres() => Environment.GetEnvironmentVariable("TESSERA_TEST_POSTGRES") is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException("TESSERA_TEST_POSTGRES is not set: run the tests with ./test.sh (it starts a PostgreSQL and sets it).");

    public static string Redis() => Environment.GetEnvironmentVariable("TESSERA_TEST_REDIS") is { Length: > 0 } value
        ? value.Trim()
        : throw new InvalidOperationException("TESSERA_TEST_REDIS is not set: run the tests with ./test.sh (it starts a Redis and sets it).");

    /// <summary>
    /// The TLS-only Redis of the run: the one test.sh started (<c>TESSERA_TEST_REDIS_TLS</c>, a StackExchange.Redis
    /// configuration string with <c>ssl=true</c> and a password, and <c>TESSERA_TEST_REDIS_TLS_CA</c>, its CA), otherwise
    /// one started here through scripts/services.sh with a password of its own, removed when the tests exit.
    /// </summary>
    public static Task<TlsRedis> RedisTlsAsync() => Tls.Value;

    private static async Task<TlsRedis> StartTlsAsync()
    {
        if (Environment.GetEnvironmentVariable("TESSERA_TEST_REDIS_TLS") is { Length: > 0 } given
            && Environment.GetEnvironmentVariable("TESSERA_TEST_REDIS_TLS_CA") is { Length: > 0 } ca)
        {
            return new TlsRedis(given.Trim(), ca.Trim());
        }
        var directory = Path.Combine(Path.GetTempPath(), "tessera-cli-tls-" + Guid.NewGuid().ToString("N")[..12]);
        var password = "tls-" + Guid.NewGuid().ToString("N");
        var started = await Tessera.TestServices.ServicesScript.RunAsync("start", "redis-tls", directory, "--", "--requirepass", password);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Tessera.TestServices.ServicesScript.RunAsync("remove", "redis-tls", directory).GetAwaiter().GetResult();
        return new TlsRedis($"{started["address"]},ssl=true,sslHost=localhost,password={password}", started["ca"]);
    }

    /// <summary>A TLS-only Redis: its configuration string (with <c>ssl=true</c> and the password) and its CA certificate file.</summary>
    public sealed record TlsRedis(string ConfigurationString, string CertificateAuthority)
    {
        private readonly ConfigurationOptions _parsed = ConfigurationOptions.Parse(ConfigurationString);

        public string Password => _parsed.Password ?? "";

        /// <summary>The host a <c>rediss://</c> URL names: the name the certificate was checked against when given, else the endpoint's.</summary>
        public string Host => _parsed.SslHost ?? Endpoint.Host;

        public int Port => Endpoint.Port;

        private (string Host, int Port) Endpoint => _parsed.EndPoints[0] switch
        {
            System.Net.DnsEndPoint dns => (dns.Host, dns.Port),
            System.Net.IPEndPoint ip => (ip.Address.ToString(), ip.Port),
            var other => throw new InvalidOperationException($"unexpected endpoint {other}"),
        };
    }
}
