using System.Globalization;
using System.Text;

namespace Tessera.Redis.Resp;

/// <summary>
/// Where and how a <see cref="RedisConnection"/> connects. <see cref="ToString"/> never shows the password, so an
/// options object can be logged.
/// </summary>
public sealed class RedisOptions
{
    /// <summary>The server's host name or IP address. Default <c>localhost</c>.</summary>
    public string Host { get; set; } = "localhost";

    /// <summary>The server's TCP port. Default <see cref="RedisDefaults.Port"/> (6379).</summary>
    public int Port { get; set; } = RedisDefaults.Port;

    /// <summary>
    /// The ACL user name sent with <c>AUTH user password</c>. When null (the default) and <see cref="Password"/> is set,
    /// <c>AUTH password</c> authenticates as the default user.
    /// </summary>
    public string? User { get; set; }

    /// <summary>The password sent with <c>AUTH</c> after every (re)connection; null (the default) sends no <c>AUTH</c>.</summary>
    public string? Password { get; set; }

    /// <summary>The database selected with <c>SELECT</c> after every (re)connection. Default 0 (no <c>SELECT</c> is sent).</summary>
    public int Database { get; set; }

    /// <summary>How long connecting (TCP plus <c>AUTH</c> and <c>SELECT</c>) may take. Default <see cref="RedisDefaults.ConnectTimeout"/>.</summary>
    public TimeSpan ConnectTimeout { get; set; } = RedisDefaults.ConnectTimeout;

    /// <summary>
    /// How long a command may wait for its reply, time spent queued or reconnecting included; then it fails with a
    /// <see cref="TimeoutException"/> and, because replies are matched to commands in order, the connection is dropped and
    /// re-established. <see cref="Timeout.InfiniteTimeSpan"/> disables the timeout. Default <see cref="RedisDefaults.CommandTimeout"/>.
    /// </summary>
    public TimeSpan CommandTimeout { get; set; } = RedisDefaults.CommandTimeout;

    /// <summary>The first delay between reconnection attempts; it doubles after each failure. Default <see cref="RedisDefaults.ReconnectMinDelay"/>.</summary>
    public TimeSpan ReconnectMinDelay { get; set; } = RedisDefaults.ReconnectMinDelay;

    /// <summary>The cap of the delay between reconnection attempts. Default <see cref="RedisDefaults.ReconnectMaxDelay"/>.</summary>
    public TimeSpan ReconnectMaxDelay { get; set; } = RedisDefaults.ReconnectMaxDelay;

    /// <summary>The clock used for command timeouts and reconnection delays. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Reads a connection string of the form <c>host:port[,password=...][,user=...][,database=N][,connectTimeout=ms][,commandTimeout=ms]</c>
    /// (the <c>ConnectionStrings:Redis</c> format). The port defaults to 6379; an IPv6 address is written in brackets
    /// (<c>[::1]:6379</c>); option names are case-insensitive and <c>defaultDatabase</c> and <c>username</c> are accepted as
    /// aliases. A password cannot contain a comma in this format; set <see cref="Password"/> directly for one that does.
    /// </summary>
    /// <param name="connectionString">The connection string.</param>
    /// <returns>New options; the caller may change them further.</returns>
    /// <exception cref="FormatException">The string is malformed; the message names the offending part but never a password.</exception>
    public static RedisOptions Parse(string connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        var options = new RedisOptions();
        var parts = connectionString.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length == 0 || parts[0].Length == 0 || parts[0].Contains('=', StringComparison.Ordinal))
        {
            throw new FormatException("A Redis connection string starts with host or host:port.");
        }

        ParseEndpoint(parts[0], options);
        for (var i = 1; i < parts.Length; i++)
        {
            var part = parts[i];
            if (part.Length == 0)
            {
                continue;
            }

            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                // The part could be a stray piece of a password that contained a comma: do not echo it.
                throw new FormatException($"Part {i + 1} of the Redis connection string is not of the form name=value.");
            }

            var name = part[..eq].Trim();
            var value = part[(eq + 1)..].Trim();
            switch (name.ToUpperInvariant())
            {
                case "PASSWORD":
                    options.Password = value.Length == 0 ? null : value;
                    break;
                case "USER":
                case "USERNAME":
                    options.User = value.Length == 0 ? null : value;
                    break;
                case "DATABASE":
                case "DEFAULTDATABASE":
                    options.Database = ParseInt(name, value, 0);
                    break;
                case "CONNECTTIMEOUT":
                    options.ConnectTimeout = TimeSpan.FromMilliseconds(ParseInt(name, value, 1));
                    break;
                case "COMMANDTIMEOUT":
                case "SYNCTIMEOUT":
                    options.CommandTimeout = TimeSpan.FromMilliseconds(ParseInt(name, value, 1));
                    break;
                default:
                    throw new FormatException($"Unknown Redis connection string option '{name}'.");
            }
        }

        return options;
    }

    private static void ParseEndpoint(string endpoint, RedisOptions options)
    {
        string host;
        string? port = null;
        if (endpoint.StartsWith('['))
        {
            var close = endpoint.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException("The Redis host has an opening '[' without a closing ']'.");
            }

            host = endpoint[1..close];
            var rest = endpoint[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    throw new FormatException("A bracketed IPv6 Redis host must be followed by ':port' or nothing.");
                }

                port = rest[1..];
            }
        }
        else
        {
            var colon = endpoint.LastIndexOf(':');
            if (colon >= 0 && endpoint.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                throw new FormatException("Write an IPv6 Redis host in brackets: [::1]:6379.");
            }

            host = colon < 0 ? endpoint : endpoint[..colon];
            port = colon < 0 ? null : endpoint[(colon + 1)..];
        }

        if (host.Length == 0)
        {
            throw new FormatException("The Redis connection string has an empty host.");
        }

        options.Host = host;
        if (port is not null)
        {
            if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
            {
                throw new FormatException("The Redis port must be a number from 1 to 65535.");
            }

            options.Port = p;
        }
    }

    private static int ParseInt(string name, string value, int min)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var result) || result < min)
        {
            throw new FormatException($"The Redis connection string option '{name}' must be a whole number of at least {min}.");
        }

        return result;
    }

    /// <summary>Checks the options, throwing an <see cref="ArgumentException"/> that names the first invalid setting.</summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host))
        {
            throw new ArgumentException("RedisOptions.Host is required.", nameof(Host));
        }

        if (Port is < 1 or > 65535)
        {
            throw new ArgumentException("RedisOptions.Port must be from 1 to 65535.", nameof(Port));
        }

        if (Database < 0)
        {
            throw new ArgumentException("RedisOptions.Database must not be negative.", nameof(Database));
        }

        if (User is not null && Password is null)
        {
            throw new ArgumentException("RedisOptions.User needs a Password.", nameof(User));
        }

        if (ConnectTimeout <= TimeSpan.Zero && ConnectTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException("RedisOptions.ConnectTimeout must be positive or infinite.", nameof(ConnectTimeout));
        }

        if (CommandTimeout <= TimeSpan.Zero && CommandTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException("RedisOptions.CommandTimeout must be positive or infinite.", nameof(CommandTimeout));
        }

        if (ReconnectMinDelay <= TimeSpan.Zero || ReconnectMaxDelay < ReconnectMinDelay)
        {
            throw new ArgumentException("RedisOptions.ReconnectMinDelay must be positive and at most ReconnectMaxDelay.", nameof(ReconnectMinDelay));
        }

        if (TimeProvider is null)
        {
            throw new ArgumentException("RedisOptions.TimeProvider is required.", nameof(TimeProvider));
        }
    }

    /// <summary>A copy of these options, so a connection is not affected by later changes to the original.</summary>
    /// <returns>A shallow copy.</returns>
    public RedisOptions Clone() => (RedisOptions)MemberwiseClone();

    /// <summary>The options in connection-string form with the password masked as <c>*****</c>.</summary>
    /// <returns>For example <c>localhost:6379,password=*****,database=1</c>.</returns>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host).Append(':').Append(Port.ToString(CultureInfo.InvariantCulture));
        if (User is not null)
        {
            sb.Append(",user=").Append(User);
        }

        if (Password is not null)
        {
            sb.Append(",password=*****");
        }

        if (Database != 0)
        {
            sb.Append(",database=").Append(Database.ToString(CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    internal string Endpoint => Host.Contains(':', StringComparison.Ordinal)
        ? $"[{Host}]:{Port.ToString(CultureInfo.InvariantCulture)}"
        : $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";
}
