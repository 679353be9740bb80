using System.Globalization;
using System.Security.Cryptography;
using StackExchange.Redis;

namespace Tessera.Cli;

// The Redis forms: a URL for one node (redis://, rediss:// over TLS), or "redis:" followed by a StackExchange.Redis
// configuration string for everything else (several endpoints, Sentinel, Cluster, TLS options, timeouts).
internal sealed partial class StoreUrl
{
    private const string ConfigurationScheme = "redis:";

    /// <summary>The option of a configuration string that is the tool's, not StackExchange.Redis's: the key prefix.</summary>
    private const string PrefixOption = "prefix";

    /// <summary>The options of a configuration string whose value is a secret.</summary>
    private static readonly string[] SecretOptions = ["password", "sentinelPassword"];

    /// <summary>
    /// <c>redis:</c> not followed by <c>//</c>: what follows is a StackExchange.Redis configuration string. A URL always
    /// has <c>//</c> after its scheme, and a configuration string never starts with it, so the two cannot be confused.
    /// </summary>
    private static bool IsRedisConfiguration(string text) =>
        text.StartsWith(ConfigurationScheme, StringComparison.OrdinalIgnoreCase)
        && !text.AsSpan(ConfigurationScheme.Length).StartsWith("//", StringComparison.Ordinal);

    private static StoreUrl ParseRedisUrl(Uri uri, string? user, string? password, Dictionary<string, string> query, string? prefixOverride, string? certificateAuthority)
    {
        var tls = uri.Scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase);
        if (uri.Host.Length == 0)
        {
            throw new FormatException($"A Redis store URL names a host: {uri.Scheme}://[:password@]host:6379[/db]");
        }
        var options = new ConfigurationOptions
        {
            User = string.IsNullOrEmpty(user) ? null : user,
            Password = password,
            Ssl = tls,
            // A short-lived tool: fail at once when the server cannot be reached, but give a big store's commands time.
            AbortOnConnectFail = true,
            ConnectTimeout = 5_000,
            SyncTimeout = 30_000,
            AsyncTimeout = 30_000,
        };
        // 6379 for rediss:// too, as redis-cli and the other clients' URLs have it (StackExchange.Redis's own default
        // with ssl=true is 6380).
        options.EndPoints.Add(uri.Host.Trim('[', ']'), uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port);
        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            if (!int.TryParse(path, NumberStyles.None, CultureInfo.InvariantCulture, out var db))
            {
                throw new FormatException($"The path of a Redis store URL is a database number: {uri.Scheme}://host:6379/0");
            }
            options.DefaultDatabase = db;
        }
        var url = new StoreUrl(StoreKind.Redis, Redact(uri, user, password), password);
        url.UseRedis(options, query.GetValueOrDefault(PrefixOption), prefixOverride, certificateAuthority);
        return url;
    }

    private static StoreUrl ParseRedisConfiguration(string configuration, string? prefixOverride, string? certificateAuthority)
    {
        // Taken apart the way StackExchange.Redis does (comma-separated, each option trimmed, name=value), to take out
        // the tool's own option and to know the secrets before the parser can quote one in an error.
        string? prefix = null;
        var kept = new List<string>();
        var shown = new List<string>();
        var secrets = new List<string>();
        foreach (var part in configuration.Split(','))
        {
            var option = part.Trim();
            var eq = option.IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? option[..eq].Trim() : "";
            var value = eq > 0 ? option[(eq + 1)..].Trim() : "";
            if (name.Equals(PrefixOption, StringComparison.OrdinalIgnoreCase))
            {
                prefix = value;
                shown.Add(option);
                continue;
            }
            if (SecretOptions.Any(s => s.Equals(name, StringComparison.OrdinalIgnoreCase)))
            {
                secrets.Add(value);
                shown.Add(name + "=***");
            }
            else
            {
                shown.Add(option);
            }
            kept.Add(option);
        }
        ConfigurationOptions options;
        try
        {
            options = ConfigurationOptions.Parse(string.Join(',', kept));
        }
        catch (Exception e) when (e is ArgumentException or FormatException or NotSupportedException)
        {
            // StackExchange.Redis names the offending option and may quote its value; a secret is taken out.
            throw new FormatException(Scrub("The StackExchange.Redis configuration string after redis: is not valid: " + e.Message, secrets.Where(s => s.Length > 0)));
        }
        if (options.EndPoints.Count == 0)
        {
            throw new FormatException("A Redis configuration string names at least one endpoint: redis:host:6379[,host2:6379][,password=...][,ssl=true]");
        }
        var url = new StoreUrl(StoreKind.Redis, ConfigurationScheme + string.Join(',', shown.Where(s => s.Length > 0)), [options.Password, options.SentinelPassword, .. secrets]);
        url.UseRedis(options, prefix, prefixOverride, certificateAuthority);
        return url;
    }

    private void UseRedis(ConfigurationOptions options, string? prefix, string? prefixOverride, string? certificateAuthority)
    {
        options.ClientName ??= "tessera-cli";
        if (certificateAuthority is not null)
        {
            try
            {
                options.TrustIssuer(certificateAuthority);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                throw new FormatException($"--tls-ca: cannot read a CA certificate from '{certificateAuthority}': {e.Message}");
            }
        }
        Redis = options;
        RedisPrefix = prefixOverride ?? prefix ?? RedisPrefix;
    }
}
