using System.Net;
using System.Net.Sockets;

namespace Tessera;

/// <summary>How much of the client's IP address a session records.</summary>
public enum IpAddressRecording
{
    /// <summary>The whole address, as the server saw it (behind a proxy, configure forwarded headers first). The default.</summary>
    Full = 0,

    /// <summary>
    /// The network part only: an IPv4 address keeps its first 24 bits (<c>203.0.113.77</c> becomes <c>203.0.113.0</c>),
    /// an IPv6 address its first 48 bits (<c>2001:db8:1:2::5</c> becomes <c>2001:db8:1::</c>); an IPv4-mapped IPv6
    /// address is recorded as IPv4. Enough to tell "home" from "abroad", not enough to single out one household.
    /// </summary>
    Truncated = 1,

    /// <summary>No IP address at all.</summary>
    Off = 2,
}

/// <summary>
/// What metadata a new session records (section <c>Tessera:Metadata</c>). Applied once, when the session is created,
/// to cookie sessions by the core and to token sessions through the helpers that capture request metadata
/// (<c>HttpContext.CaptureSessionMetadata()</c> in Tessera.AspNetCore). Sessions created before a change keep what they recorded.
/// </summary>
public sealed class SessionMetadataOptions
{
    /// <summary>
    /// Whether the User-Agent is recorded (at most <see cref="TesseraDefaults.MaxUserAgentLength"/> characters).
    /// Default <see langword="true"/>.
    /// </summary>
    public bool RecordUserAgent { get; set; } = true;

    /// <summary>How much of the IP address is recorded. Default <see cref="IpAddressRecording.Full"/>.</summary>
    public IpAddressRecording IpAddress { get; set; } = IpAddressRecording.Full;

    /// <summary>
    /// Applies this policy to metadata gathered elsewhere: drops the User-Agent when it is not recorded and caps its
    /// length, truncates or drops the IP address, keeps the label. Applying it twice gives the same result.
    /// </summary>
    /// <param name="metadata">The metadata as captured; <see langword="null"/> reads as <see cref="SessionMetadata.Empty"/>.</param>
    /// <returns>The metadata to record. An IP text that does not parse is dropped unless the policy is <see cref="IpAddressRecording.Full"/>.</returns>
    public SessionMetadata Apply(SessionMetadata? metadata)
    {
        metadata ??= SessionMetadata.Empty;
        var userAgent = RecordUserAgent ? CapUserAgent(metadata.UserAgent) : null;
        var ip = IpAddress switch
        {
            IpAddressRecording.Full => string.IsNullOrEmpty(metadata.IpAddress) ? null : metadata.IpAddress,
            IpAddressRecording.Truncated => System.Net.IPAddress.TryParse(metadata.IpAddress, out var parsed) ? Truncate(parsed).ToString() : null,
            _ => null,
        };
        return metadata.UserAgent == userAgent && metadata.IpAddress == ip ? metadata : metadata with { UserAgent = userAgent, IpAddress = ip };
    }

    /// <summary>Captures metadata from a client's User-Agent and address under this policy.</summary>
    /// <param name="userAgent">The User-Agent header, or <see langword="null"/>; empty counts as absent.</param>
    /// <param name="ipAddress">The client's address, or <see langword="null"/> when unknown.</param>
    /// <param name="label">A label the application chose, or <see langword="null"/>; always kept.</param>
    /// <returns>The metadata to record.</returns>
    public SessionMetadata Capture(string? userAgent, IPAddress? ipAddress, string? label = null) =>
        Apply(new SessionMetadata(string.IsNullOrEmpty(userAgent) ? null : userAgent, ipAddress?.ToString(), label));

    /// <summary>The network part of an address: IPv4 /24, IPv6 /48, IPv4-mapped IPv6 as IPv4 /24.</summary>
    /// <param name="address">The address.</param>
    /// <returns>The truncated address.</returns>
    public static IPAddress Truncate(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        var bytes = address.GetAddressBytes();
        var keep = address.AddressFamily == AddressFamily.InterNetwork ? 3 : 6;
        Array.Clear(bytes, keep, bytes.Length - keep);
        return new IPAddress(bytes); // no scope id: a zone index would identify the interface, not the network
    }

    private static string? CapUserAgent(string? userAgent) =>
        string.IsNullOrEmpty(userAgent) ? null
        : userAgent.Length > TesseraDefaults.MaxUserAgentLength ? userAgent[..TesseraDefaults.MaxUserAgentLength]
        : userAgent;
}
