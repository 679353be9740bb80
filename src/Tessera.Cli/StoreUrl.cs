using Npgsql;
using StackExchange.Redis;
using Tessera.PostgreSql;
using Tessera.Redis;

namespace Tessera.Cli;

/// <summary>The kinds of store the tool opens.</summary>
internal enum StoreKind
{
    Sqlite,
    PostgreSql,
    Redis,
}

/// <summary>
/// A store named by URL: <c>sqlite:PATH</c>, <c>postgres://user:pass@host:port/db[?schema=S]</c>,
/// <c>redis://[user][:pass@]host[:port][/db][?prefix=P]</c> (<c>rediss://</c> for the same over TLS), or
/// <c>redis:</c> followed by a StackExchange.Redis configuration string (see <c>StoreUrl.Redis.cs</c>). Keeps the
/// passwords apart so that nothing the tool prints can contain them (see <see cref="Scrub(string)"/>).
/// </summary>
internal sealed partial class StoreUrl
{
    private StoreUrl(StoreKind kind, string display, params string?[] secrets)
    {
        Kind = kind;
        Display = display;
        Secrets = [.. secrets.Where(s => !string.IsNullOrEmpty(s)).Select(s => s!)];
    }

    public StoreKind Kind { get; }

    /// <summary>The URL with any password replaced by <c>***</c>: safe to print.</summary>
    public string Display { get; }

    /// <summary>The passwords, to scrub from messages; empty when the URL has none.</summary>
    public IReadOnlyList<string> Secrets { get; }

    public string? SqlitePath { get; private set; }

    public NpgsqlConnectionStringBuilder? Postgres { get; private set; }

    public string PostgresSchema { get; private set; } = PostgreSqlSessionStoreDefaults.Schema;

    /// <summary>The Redis connection (its own copy: the tool connects with it once); set for <see cref="StoreKind.Redis"/>.</summary>
    public ConfigurationOptions? Redis { get; private set; }

    public string RedisPrefix { get; private set; } = RedisSessionStoreDefaults.KeyPrefix;

    /// <summary>Parses a store URL; the message of a <see cref="FormatException"/> never contains the password.</summary>
    /// <param name="text">The URL.</param>
    /// <param name="prefixOverride">Redis only: the key prefix, over the URL's own (<c>--prefix</c>).</param>
    /// <param name="certificateAuthority">Redis only: a PEM or DER file of the CA that issued the server's TLS certificate (<c>--tls-ca</c>).</param>
    public static StoreUrl Parse(string text, string? prefixOverride, string? certificateAuthority = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        if (IsRedisConfiguration(text))
        {
            return ParseRedisConfiguration(text["redis:".Length..], prefixOverride, certificateAuthority);
        }
        if (text.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            var path = text["sqlite:".Length..];
            if (path.StartsWith("//", StringComparison.Ordinal))
            {
                path = path[2..];
            }
            if (path.Length == 0)
            {
                throw new FormatException("A SQLite store URL names a file: sqlite:./data/sessions.db");
            }
            return new StoreUrl(StoreKind.Sqlite, "sqlite:" + path) { SqlitePath = path };
        }
        // The user info is taken apart by hand: System.Uri refuses some valid forms (redis://:password@host) and a
        // password may hold unescaped '@' or '/'. Its text never reaches an exception message.
        string? user = null, password = null;
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0)
        {
            var authorityStart = scheme + 3;
            // Paths and queries of these URLs never hold '@', so the user info ends at the last one.
            var queryStart = text.IndexOf('?', authorityStart);
            var at = text.LastIndexOf('@', queryStart < 0 ? text.Length - 1 : queryStart);
            if (at >= authorityStart)
            {
                var info = text[authorityStart..at];
                var colon = info.IndexOf(':', StringComparison.Ordinal);
                var rawUser = colon < 0 ? info : info[..colon];
                var rawPassword = colon < 0 ? "" : info[(colon + 1)..];
                user = rawUser.Length == 0 ? null : Unescape(rawUser);
                password = rawPassword.Length == 0 ? null : Unescape(rawPassword);
                text = text[..authorityStart] + text[(at + 1)..];
            }
        }
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme.Equals("file", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException("The store URL is not one of sqlite:PATH, postgres://user:password@host:port/database, redis://[:password@]host:port[/db] (rediss:// over TLS) or redis:CONFIGURATION (a StackExchange.Redis configuration string, such as redis:host:6379,password=...).");
        }
        var query = Query(uri);
        switch (uri.Scheme.ToLowerInvariant())
        {
            case "postgres":
            case "postgresql":
            {
                var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
                if (uri.Host.Length == 0 || database.Length == 0)
                {
                    throw new FormatException("A PostgreSQL store URL names a host and a database: postgres://user:password@host:5432/database");
                }
                var builder = new NpgsqlConnectionStringBuilder
                {
                    Host = uri.Host,
                    Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port,
                    Database = database,
                    Timeout = 5,
                    // A short-lived tool: no pool to keep warm, and no connection left open at exit.
                    Pooling = false,
                };
                if (user is not null)
                {
                    builder.Username = user;
                }
                if (password is not null)
                {
                    builder.Password = password;
                }
                var url = new StoreUrl(StoreKind.PostgreSql, Redact(uri, user, password), password) { Postgres = builder };
                if (query.TryGetValue("schema", out var schema))
                {
                    url.PostgresSchema = schema;
                }
                return url;
            }
            case "redis":
            case "rediss":
                return ParseRedisUrl(uri, user, password, query, prefixOverride, certificateAuthority);
            default:
                throw new FormatException($"Unknown store scheme '{uri.Scheme}': use sqlite:, postgres://, redis://, rediss:// or redis: followed by a StackExchange.Redis configuration string (redis:host:6379,password=...).");
        }
    }

    /// <summary>Removes the password from a message (any text the tool prints about this store).</summary>
    public string Scrub(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return Scrub(message, Secrets);
    }

    private static string Scrub(string message, IEnumerable<string> secrets)
    {
        foreach (var secret in secrets)
        {
            message = message.Replace(secret, "***", StringComparison.Ordinal);
            var escaped = Uri.EscapeDataString(secret);
            if (!string.Equals(escaped, secret, StringComparison.Ordinal))
            {
                message = message.Replace(escaped, "***", StringComparison.Ordinal);
            }
        }
        return message;
    }

    private static string Unescape(string text)
    {
        try
        {
            return Uri.UnescapeDataString(text);
        }
        catch (UriFormatException)
        {
            return text;
        }
    }

    private static Dictionary<string, string> Query(Uri uri)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException("The store URL's query is not of the form name=value.");
            }
            var name = Uri.UnescapeDataString(pair[..eq]);
            if (!name.Equals("schema", StringComparison.OrdinalIgnoreCase) && !name.Equals("prefix", StringComparison.OrdinalIgnoreCase))
            {
                throw new FormatException($"Unknown store URL option '{name}' (known: schema for PostgreSQL, prefix for Redis).");
            }
            result[name] = Uri.UnescapeDataString(pair[(eq + 1)..]);
        }
        return result;
    }

    private static string Redact(Uri uri, string? user, string? password)
    {
        var info = (user, password) switch
        {
            (null, null) => "",
            (_, null) => Uri.EscapeDataString(user!) + "@",
            _ => (user is null ? "" : Uri.EscapeDataString(user)) + ":***@",
        };
        return uri.Scheme + "://" + info + uri.GetComponents(UriComponents.HostAndPort | UriComponents.PathAndQuery, UriFormat.SafeUnescaped);
    }
}
