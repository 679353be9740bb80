namespace Tessera.Redis.Resp;

/// <summary>
/// The server answered a command with an error reply. <see cref="Exception.Message"/> is the server's error text (for
/// example <c>WRONGTYPE Operation against a key holding the wrong kind of value</c>); the client never adds the
/// command's arguments, and cuts off the "with args beginning with" part that Redis appends to unknown-command errors.
/// The connection stays usable.
/// </summary>
public sealed class RedisServerException : Exception
{
    /// <summary>Creates an exception with a generic message.</summary>
    public RedisServerException()
        : this("ERR unspecified error")
    {
    }

    /// <summary>Creates an exception from the server's error text.</summary>
    /// <param name="message">The error reply without its leading '-'.</param>
    public RedisServerException(string message)
        : base(Scrub(message))
    {
        var space = Message.IndexOf(' ', StringComparison.Ordinal);
        ErrorCode = space < 0 ? Message : Message[..space];
    }

    /// <summary>Creates an exception from the server's error text and a cause.</summary>
    /// <param name="message">The error reply without its leading '-'.</param>
    /// <param name="innerException">The cause.</param>
    public RedisServerException(string message, Exception? innerException)
        : base(Scrub(message), innerException)
    {
        var space = Message.IndexOf(' ', StringComparison.Ordinal);
        ErrorCode = space < 0 ? Message : Message[..space];
    }

    /// <summary>The error's first word, by Redis convention its code: <c>ERR</c>, <c>WRONGTYPE</c>, <c>NOSCRIPT</c>, <c>WRONGPASS</c>, ...</summary>
    public string ErrorCode { get; }

    private static string Scrub(string message)
    {
        // Redis echoes the first arguments of an unknown command; those can be keys or values we must not log.
        var echo = message.IndexOf(", with args beginning with:", StringComparison.Ordinal);
        return echo < 0 ? message : message[..echo];
    }
}
