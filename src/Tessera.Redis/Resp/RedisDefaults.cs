namespace Tessera.Redis.Resp;

/// <summary>The defaults of <see cref="RedisOptions"/>, in one place.</summary>
public static class RedisDefaults
{
    /// <summary>The port used when a connection string names only a host: 6379.</summary>
    public const int Port = 6379;

    /// <summary>How long opening the TCP connection plus <c>AUTH</c> and <c>SELECT</c> may take: 5 seconds.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long a command may wait for its reply, queueing included: 5 seconds.</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The first delay between reconnection attempts: 100 milliseconds; it doubles after each failure.</summary>
    public static readonly TimeSpan ReconnectMinDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>The cap of the doubling delay between reconnection attempts: 5 seconds.</summary>
    public static readonly TimeSpan ReconnectMaxDelay = TimeSpan.FromSeconds(5);
}
