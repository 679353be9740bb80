namespace Tessera.Demo.Pages;

/// <summary>A device as "your devices" names it: a browser family and an operating system, each "Unknown" when unsure.</summary>
internal sealed record DeviceDescription(string Browser, string OperatingSystem)
{
    public const string Unknown = "Unknown";

    public override string ToString() => $"{Browser} on {OperatingSystem}";
}

/// <summary>
/// A deliberately small User-Agent parser for the common families only. User-Agent strings lie by design (every
/// browser claims to be Mozilla, Chrome claims Safari, Edge claims Chrome), so the order of the checks is the whole
/// parser: the most specific token wins. Anything it does not recognise is "Unknown" rather than a guess.
/// </summary>
internal static class UserAgentParser
{
    public static DeviceDescription Parse(string? userAgent)
    {
        if (string.IsNullOrWhiteSpace(userAgent))
        {
            return new DeviceDescription(DeviceDescription.Unknown, DeviceDescription.Unknown);
        }
        return new DeviceDescription(Browser(userAgent), OperatingSystem(userAgent));
    }

    private static string Browser(string ua)
    {
        // Edge and Opera are Chromium underneath and say "Chrome/" too; Chrome on iOS (CriOS) and Firefox on iOS
        // (FxiOS) are WebKit underneath and say "Safari/" too. So the distinctive tokens are checked first.
        if (Has(ua, "Edg/") || Has(ua, "EdgA/") || Has(ua, "EdgiOS/") || Has(ua, "Edge/"))
        {
            return "Edge";
        }
        if (Has(ua, "OPR/") || Has(ua, "OPiOS/") || Has(ua, "Opera"))
        {
            return "Opera";
        }
        if (Has(ua, "Firefox/") || Has(ua, "FxiOS/"))
        {
            return "Firefox";
        }
        if (Has(ua, "Chromium/"))
        {
            return "Chromium";
        }
        if (Has(ua, "Chrome/") || Has(ua, "CriOS/") || Has(ua, "HeadlessChrome/"))
        {
            return "Chrome";
        }
        // Only real Safari says Version/x alongside Safari/ (Android's old stock browser aside, which is rare now).
        if (Has(ua, "Safari/") && Has(ua, "Version/") && !Has(ua, "Android"))
        {
            return "Safari";
        }
        return DeviceDescription.Unknown;
    }

    private static string OperatingSystem(string ua)
    {
        // iPads and iPhones mention "like Mac OS X", and Android mentions "Linux": both are checked before the desktops.
        if (Has(ua, "iPhone") || Has(ua, "iPad") || Has(ua, "iPod"))
        {
            return "iOS";
        }
        if (Has(ua, "Android"))
        {
            return "Android";
        }
        if (Has(ua, "Windows"))
        {
            return "Windows";
        }
        if (Has(ua, "Macintosh") || Has(ua, "Mac OS X"))
        {
            return "macOS";
        }
        if (Has(ua, "CrOS"))
        {
            return "ChromeOS";
        }
        if (Has(ua, "Linux") || Has(ua, "X11"))
        {
            return "Linux";
        }
        return DeviceDescription.Unknown;
    }

    private static bool Has(string ua, string token) => ua.Contains(token, StringComparison.Ordinal);
}
